"""OpenAPI generation: nullable responses, and the problem-details error responses on every operation."""

import copy

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi
from rest_framework import serializers

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 7807 problem details; `errors` holds per-field (or per-row) messages.",
    "properties": {
        "type": {"type": "string", "example": "urn:csm:problem:validation"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "description": "Per field: field -> messages; per row (imports, pushes): a list of rows.",
            "anyOf": [
                {"type": "object", "additionalProperties": True},
                {"type": "array", "items": {}},
            ],
        },
    },
    "required": ["type", "title", "status", "detail"],
}
PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

ERRORS = {
    "400": "Invalid input (per-field `errors`), malformed JSON",
    "401": "No or invalid credentials",
    "403": "Your role in this tenant lacks the right",
    "404": "Unknown tenant, not a member, or no such object in this tenant",
    "413": "Request body too large",
    "415": "Unsupported content type",
}
PAGINATION_PARAMETERS = {"page", "page_size"}


def _error_codes(path: str, method: str, operation: dict) -> list[str]:
    """The problem responses an operation can give, from what it takes."""
    codes = ["401"] if operation.get("security") != [] else []
    if "{tenant}" in path:
        codes += ["403", "404"]
    if method in {"post", "put", "patch"}:
        codes += ["400", "413", "415"]
    query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    if query - PAGINATION_PARAMETERS:
        codes.append("400")  # filters are validated: a bad value is a 400 naming the parameter
    if "page" in query:
        codes.append("404")  # a page beyond the last one
    return list(dict.fromkeys(codes))


def _csv_format(operation: dict) -> bool:
    """Whether ``?format=csv`` switches the operation's answer to CSV."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and parameter["name"] == "format":
            return "csv" in parameter.get("schema", {}).get("enum", ["csv"])
    return False


def _is_blank_alternative(schema: dict) -> bool:
    return schema.get("maxLength") == 0 or schema.get("$ref", "").endswith("/BlankEnum")


def _blank_one_of_to_any_of(node) -> None:
    """``oneOf: [<a string format>, <blank>]`` -> ``anyOf``: "" may satisfy both (a blank URL is no URL,
    but a format checker that does not know the format accepts it), which ``oneOf`` forbids."""
    if isinstance(node, dict):
        alternatives = node.get("oneOf")
        if isinstance(alternatives, list) and any(_is_blank_alternative(a) for a in alternatives):
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _blank_one_of_to_any_of(value)
    elif isinstance(node, list):
        for value in node:
            _blank_one_of_to_any_of(value)


def add_problem_responses(result, generator, request, public):
    """Add the Problem schema and the error responses each operation can give (and CSV where offered)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    _blank_one_of_to_any_of(result["components"]["schemas"])
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            codes = _error_codes(path, method, operation)
            codes += [code for code in responses if code.startswith("4") and code not in codes]
            for code in codes:
                existing = responses.get(code, {})
                responses[code] = {
                    "description": existing.get("description") or ERRORS.get(code, "Error"),
                    "content": copy.deepcopy(PROBLEM_CONTENT),
                }
            if _csv_format(operation):
                for code, response in responses.items():
                    if code.startswith("2") and "content" in response:
                        response["content"].setdefault("text/csv", {"schema": {"type": "string"}})
    return result


def _model_field_of(field):
    """The model field a serializer field reads, following relations (None when not a model path)."""
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    attrs = getattr(field, "source_attrs", None) or []
    if model is None or not attrs or field.source == "*":
        return None, []
    path = []
    for attr in attrs:
        if model is None:
            return None, path
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return None, path
        path.append(model_field)
        model = getattr(model_field, "related_model", None)
    return path[-1], path


def _model_field_is_nullable(field) -> bool:
    """Whether the model attribute a serializer field reads can be None (a nullable field on its path)."""
    _, path = _model_field_of(field)
    # Reverse relations and many-to-many fields say null=True but answer a (possibly empty) list.
    return any(f.null and f.concrete and not f.many_to_many for f in path)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, with responses as the model really answers them.

    A declared ``SlugRelatedField(read_only=True)`` on a nullable foreign key (``acknowledged_by``,
    ``invited_by``) answers ``null``, and a declared ``ChoiceField`` on a model field with
    ``blank=True`` answers ``""`` while nothing is chosen; DRF only knows that from ``allow_null`` and
    ``allow_blank``, which declared fields rarely set (input stays strict). Without this the schema
    promised a string or an enum value and clients (and schemathesis) broke on real answers.
    """

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if (
            direction == "response"
            and isinstance(field, serializers.Field)
            and "nullable" not in meta
            and _model_field_is_nullable(field)
        ):
            meta["nullable"] = True
        return meta

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if direction == "response" and isinstance(field, serializers.ChoiceField) and not field.allow_blank:
            model_field, _ = _model_field_of(field)
            if model_field is not None and getattr(model_field, "blank", False):
                field.allow_blank = True
                try:
                    return super()._map_serializer_field(field, direction, bypass_extensions)
                finally:
                    field.allow_blank = False
        return super()._map_serializer_field(field, direction, bypass_extensions)
