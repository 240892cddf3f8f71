"""Every operation of the OpenAPI schema is documented with valid examples and its error responses.

Examples come from config/schema_examples.py. Each is validated against the schema of its operation
(``$ref`` resolved, OpenAPI ``nullable`` translated to JSON Schema), so an example cannot drift from the
serializer it documents. A new endpoint without examples fails the completeness test with its
operationId.
"""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from jsonschema import Draft7Validator

from config.schema_examples import EXAMPLES

METHODS = ("get", "post", "put", "patch", "delete")
UPLOAD = "multipart/form-data"  # a file upload: its example would be a file


def _schema() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


SCHEMA = _schema()


def _to_json_schema(node):
    """OpenAPI 3.0 schema object -> JSON Schema (draft 7): ``nullable`` becomes a null alternative."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: _to_json_schema(value) for key, value in node.items() if key not in ("nullable", "example")
    }
    if node.get("nullable"):
        if "type" in converted and "$ref" not in converted and "allOf" not in converted:
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


COMPONENTS = {"schemas": _to_json_schema(SCHEMA["components"]["schemas"])}


def _examples() -> list[tuple[str, str, str, object, dict]]:
    """(operationId, where, media type, example value, media schema) for every example in the schema."""
    found = []
    for operations in SCHEMA["paths"].values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            places = [("request", operation.get("requestBody", {}).get("content", {}))]
            places += [
                (code, response.get("content", {})) for code, response in operation["responses"].items()
            ]
            for where, content in places:
                for media_type, media in content.items():
                    for example in media.get("examples", {}).values():
                        found.append(
                            (operation["operationId"], where, media_type, example["value"], media["schema"])
                        )
    return found


EXAMPLE_CASES = _examples()


def test_examples_exist():
    assert len(EXAMPLE_CASES) > 100
    assert {"tenants_areas_create", "auth_token_create"} <= {case[0] for case in EXAMPLE_CASES}


@pytest.mark.parametrize(
    ("operation_id", "where", "media_type", "value", "schema"),
    EXAMPLE_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in EXAMPLE_CASES],
)
def test_example_is_valid_against_its_schema(operation_id, where, media_type, value, schema):
    root = {**_to_json_schema(schema), "components": COMPONENTS}
    validator = Draft7Validator(root, format_checker=Draft7Validator.FORMAT_CHECKER)
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(value)
    ]
    assert not errors, errors


def test_every_registry_entry_names_an_operation():
    """A renamed operationId must not silently orphan its examples."""
    operation_ids = {
        operation["operationId"]
        for operations in SCHEMA["paths"].values()
        for method, operation in operations.items()
        if method in METHODS
    }
    assert sorted(set(EXAMPLES) - operation_ids) == []


def test_every_operation_has_examples_and_documented_errors():
    missing = []
    for path, operations in sorted(SCHEMA["paths"].items()):
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            name = f"{operation['operationId']} ({method.upper()} {path})"
            content = operation.get("requestBody", {}).get("content", {})
            body = {media_type: media for media_type, media in content.items() if media_type != UPLOAD}
            if body and not any(media.get("examples") for media in body.values()):
                missing.append(f"{name}: no request example")
            responses = operation["responses"]
            success = [
                media
                for code, response in responses.items()
                if code.startswith("2")
                for media in response.get("content", {}).values()
                if media.get("schema", {}).get("format") != "binary"  # a file download has no JSON example
            ]
            if success and not any(media.get("examples") for media in success):
                missing.append(f"{name}: no success response example")
            errors = {code: r for code, r in responses.items() if code.startswith("4")}
            if not errors:
                missing.append(f"{name}: no 4xx response documented")
            for code, response in errors.items():
                if not any(media.get("examples") for media in response.get("content", {}).values()):
                    missing.append(f"{name}: {code} has no example")
    assert missing == [], "\n".join(missing)
