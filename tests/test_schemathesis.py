"""Property-based API test: schemathesis generates requests for every operation of the OpenAPI schema.

Each operation is called in-process on the WSGI application (``config.wsgi.application``) as an admin
of a seeded tenant, with ``{tenant}`` fixed to that tenant and ``{id}`` to an existing object of the
route's model (made by the same makers as the cross-tenant test). Every response must be no server
error and must conform to the schema: a documented status code, a documented content type and a body
valid against the documented schema. A second, negative pass sends requests that break the schema
(wrong types, missing or out-of-range values) and accepts only documented 4xx answers, never a 500.
Few examples per operation and a fixed seed keep it bounded and reproducible; explicit schema examples
(config/schema_examples.py) run first.
"""

import json
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.factories import make_for_tenant, member, token_for

PARAM = re.compile(r"{(\w+)}")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
MAX_EXAMPLES = 6
NEGATIVE_EXAMPLES = 4


def _raw_schema() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


RAW_SCHEMA = _raw_schema()
OPERATIONS = [
    (path, method)
    for path, operations in sorted(RAW_SCHEMA["paths"].items())
    for method in ("get", "post", "put", "patch", "delete")
    if method in operations
]


# Negative generation needs something it may break: a body or a query parameter (path ones are fixed).
NEGATIVE_OPERATIONS = [
    (path, method)
    for path, method in OPERATIONS
    if "requestBody" in RAW_SCHEMA["paths"][path][method]
    or any(p["in"] == "query" for p in RAW_SCHEMA["paths"][path][method].get("parameters", []))
]


def _model_of(path: str):
    """The model behind a route with an object id, from its view (``model`` or queryset)."""
    view = resolve(PARAM.sub(lambda m: "tenant-a" if m[1] == "tenant" else "1", path)).func
    cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
    model = getattr(cls, "model", None)
    if model is None and getattr(cls, "queryset", None) is not None:
        model = cls.queryset.model
    return model


@pytest.fixture
def in_process_requests():
    """The WSGI handler closes "old" connections around each request; in a test transaction that
    would close the test's own connection, so do what Django's test client does: leave it open."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_schema_lists_the_api():
    """The walk below is not vacuous."""
    assert len(OPERATIONS) > 50
    assert ("/api/v1/tenants/{tenant}/areas/", "post") in OPERATIONS


def _run(path: str, method: str, tenant, mode: GenerationMode, checks: list, max_examples: int) -> None:
    admin = member(tenant, "admin")
    token = token_for(admin)
    path_parameters = {}
    if "{tenant}" in path:
        path_parameters["tenant"] = tenant.slug
    object_params = set(PARAM.findall(path)) - {"tenant"}
    model = _model_of(path) if object_params else None
    if model is not None:  # a route without a model (a free path such as SensorThings') is generated
        obj = make_for_tenant(model, tenant)
        for name in object_params:
            path_parameters[name] = obj.pk if name in ("id", "pk") else getattr(obj, name)

    schema = schemathesis.openapi.from_dict(RAW_SCHEMA)
    operation = schema[path][method.upper()]
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters=path_parameters, headers={"Authorization": f"Token {token}"}
    )

    @given(case=strategy)
    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        case.call_and_validate(app=application, checks=checks)

    call()


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_operation_conforms_to_schema(path, method, tenant_a, in_process_requests):
    """Valid requests (the examples, then generated ones): answers exactly as documented."""
    _run(path, method, tenant_a, GenerationMode.POSITIVE, CHECKS, MAX_EXAMPLES)


@pytest.mark.parametrize(
    ("path", "method"), NEGATIVE_OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in NEGATIVE_OPERATIONS]
)
def test_invalid_requests_are_no_server_error(path, method, tenant_a, in_process_requests):
    """Requests that violate the schema (wrong types, missing fields, out-of-range values): a documented
    4xx, never a 500."""
    _run(path, method, tenant_a, GenerationMode.NEGATIVE, NEGATIVE_CHECKS, NEGATIVE_EXAMPLES)
