"""Hostile input gets a clean 4xx problem document, never a 500, and accepted text comes back verbatim.

The text fields are generated from the OpenAPI schema: every string property (without enum) of every
JSON request body of every operation, and every string query parameter of every GET. A field is sent
inside the operation's documented request example (config/schema_examples.py) so that the rest of the
body is valid and a payload that is accepted can be read back. New endpoints are covered without
anyone listing their fields.
"""

import copy
import json
import re
from datetime import timedelta

import pytest
from django.urls import resolve
from django.utils import timezone
from django_scopes import scopes_disabled
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from config.schema_examples import request_example
from tenants.models import ApiToken, Membership
from tests.factories import make_area, make_for_tenant, member, token_for
from tests.helpers import assert_problem_in as assert_problem

PARAM = re.compile(r"{(\w+)}")
SQL_INJECTION = "Boulevard'; DROP TABLE tenants_tenant; -- \" OR 1=1 /*"
SCRIPT = "<script>alert('Scheveningen')</script><img src=x onerror=alert(1)>"
LONG = "Kurhaus-" * 12_500  # 100,000 characters (no outer whitespace: DRF trims that by design)
NUL = "Pier\x00Scheveningen"
PAYLOADS = {"sql": SQL_INJECTION, "script": SCRIPT, "long": LONG, "nul": NUL}


def _schema() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


SCHEMA = _schema()


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(schema["allOf"][0])
    return schema


def _is_free_text(prop: dict) -> bool:
    prop = _resolve(prop)
    return (
        prop.get("type") == "string" and "enum" not in prop and prop.get("format") in (None, "uri", "email")
    )


def _body_fields() -> list[tuple[str, str, str, str]]:
    """(path, method, operationId, field) for every free-text field of every JSON request body."""
    found = []
    for path, operations in sorted(SCHEMA["paths"].items()):
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            body = _resolve(content["application/json"]["schema"])
            for field, prop in sorted(body.get("properties", {}).items()):
                if not prop.get("readOnly") and _is_free_text(prop):
                    found.append((path, method, operation["operationId"], field))
    return found


def _query_fields() -> list[tuple[str, str]]:
    """(path, parameter) for every string query parameter of every GET."""
    found = []
    for path, operations in sorted(SCHEMA["paths"].items()):
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] == "query" and _resolve(parameter.get("schema", {})).get("type") == "string":
                found.append((path, parameter["name"]))
    return found


def _datetime_fields() -> list[tuple[str, str, str, str, str]]:
    """(where, path, method, operationId, name) for every date-time body field and query parameter."""
    found = []
    for path, operations in sorted(SCHEMA["paths"].items()):
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch"):
                continue
            for parameter in operation.get("parameters", []):
                if (
                    parameter["in"] == "query"
                    and _resolve(parameter.get("schema", {})).get("format") == "date-time"
                ):
                    found.append(("query", path, method, operation["operationId"], parameter["name"]))
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = _resolve(content["application/json"]["schema"])
                for field, prop in sorted(body.get("properties", {}).items()):
                    if not prop.get("readOnly") and _resolve(prop).get("format") == "date-time":
                        found.append(("body", path, method, operation["operationId"], field))
    return found


BODY_FIELDS = _body_fields()
QUERY_FIELDS = _query_fields()
DATETIME_FIELDS = _datetime_fields()
# Python accepts offsets up to +-23:59, PostgreSQL only up to +-15:59; years 1 and 9999 overflow in UTC.
HOSTILE_DATETIMES = [
    "2026-07-04T14:05:00+20:58",
    "0035-08-19T01:50:26.94+20:58",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-07-04T14:05:00",
    "2026-02-30T14:05:00+02:00",
    "2026-07-04T14:05:00\x00+02:00",
]


def _model_of(path: str):
    view = resolve(PARAM.sub(lambda m: "tenant-a" if m[1] == "tenant" else "1", path)).func
    cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
    model = getattr(cls, "model", None)
    if model is None and getattr(cls, "queryset", None) is not None:
        model = cls.queryset.model
    return model


def _url(path: str, tenant) -> str:
    params = set(PARAM.findall(path)) - {"tenant"}
    obj = make_for_tenant(_model_of(path), tenant) if params else None
    return PARAM.sub(lambda m: tenant.slug if m[1] == "tenant" else str(obj.pk), path)


@pytest.fixture
def admin_api(api, tenant_a):
    admin = member(tenant_a, "admin")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(admin)}")
    return api


def test_the_generated_lists_are_not_empty():
    operations = {operation_id for _, _, operation_id, _ in BODY_FIELDS}
    assert {"tenants_areas_create", "tenants_incidents_create", "tenants_members_create"} <= operations
    assert ("/api/v1/tenants/{tenant}/areas/", "q") in QUERY_FIELDS


@pytest.mark.parametrize(
    ("path", "method", "operation_id", "field"),
    BODY_FIELDS,
    ids=[f"{operation_id}.{field}" for _, _, operation_id, field in BODY_FIELDS],
)
def test_hostile_text_in_a_body_field_is_a_clean_4xx_or_stored_verbatim(
    path, method, operation_id, field, admin_api, tenant_a
):
    url = _url(path, tenant_a)
    for name, payload in PAYLOADS.items():
        body = copy.deepcopy(request_example(operation_id) or {})
        if not isinstance(body, dict):
            body = {}
        if "slug" in body and field != "slug":
            body["slug"] = f"{body['slug']}-{name}"[:50]
        body[field] = payload
        response = getattr(admin_api, method)(url, body, format="json")
        assert response.status_code < 500, (name, response.content[:500])
        if name == "nul":
            problem = assert_problem(response, 400)
            assert field in problem["errors"], problem
            assert "NUL" in json.dumps(problem["errors"][field]), problem
        elif response.status_code >= 400:
            assert_problem(response, 400, 403, 404, 409, 413)
        else:
            data = response.json() if response.content else None
            returned = data.get(field) if isinstance(data, dict) else None
            if isinstance(returned, str):  # a write-only field (a secret) is not echoed
                assert returned == payload, (name, returned[:200])


@pytest.mark.parametrize(("path", "parameter"), QUERY_FIELDS, ids=[f"{p}?{n}" for p, n in QUERY_FIELDS])
def test_hostile_text_in_a_query_parameter_is_a_clean_answer(path, parameter, admin_api, tenant_a):
    url = _url(path, tenant_a)
    for name, payload in PAYLOADS.items():
        response = admin_api.get(url, {parameter: payload})
        assert response.status_code < 500, (name, response.content[:500])
        if name == "nul":
            problem = assert_problem(response, 400)
            assert parameter in problem["errors"]
        elif response.status_code >= 400:
            assert_problem(response, 400, 404)


@pytest.mark.parametrize(
    ("where", "path", "method", "operation_id", "name"),
    DATETIME_FIELDS,
    ids=[f"{where}-{operation_id}.{name}" for where, _, _, operation_id, name in DATETIME_FIELDS],
)
def test_hostile_timestamps_are_a_clean_answer(where, path, method, operation_id, name, admin_api, tenant_a):
    url = _url(path, tenant_a)
    for value in HOSTILE_DATETIMES:
        if where == "query":
            for fmt in ("json", "csv"):
                response = admin_api.get(url, {name: value, "format": fmt})
                if response.streaming:
                    b"".join(response.streaming_content)  # a CSV export must not fail half-way
                assert response.status_code < 500, (value, fmt, response.status_code)
                if response.status_code >= 400:
                    assert_problem(response, 400, 404)
        else:
            body = copy.deepcopy(request_example(operation_id) or {})
            body = body if isinstance(body, dict) else {}
            body[name] = value
            response = getattr(admin_api, method)(url, body, format="json")
            assert response.status_code < 500, (value, response.content[:300])
            if response.status_code >= 400:
                assert_problem(response, 400, 403, 404, 409)


def test_accepted_script_and_sql_text_is_returned_verbatim(admin_api, tenant_a):
    area = make_area(tenant_a, slug="pier")
    for payload in (SCRIPT, SQL_INJECTION):
        response = admin_api.patch(
            f"/api/v1/tenants/tenant-a/areas/{area.pk}/", {"name": payload}, format="json"
        )
        assert response.status_code == 200, response.content
        assert admin_api.get(f"/api/v1/tenants/tenant-a/areas/{area.pk}/").json()["name"] == payload
    listed = admin_api.get("/api/v1/tenants/tenant-a/areas/", {"q": "DROP TABLE"}).json()["results"]
    assert [a["slug"] for a in listed] == ["pier"]


def test_nul_in_a_json_field_names_the_nested_field(admin_api, tenant_a):
    body = {"name": "Camera Kurhaus", "slug": "cam-kurhaus", "kind": "counting_camera",
            "config": {"vendor": "Pier\x00cam"}}  # fmt: skip
    problem = assert_problem(admin_api.post("/api/v1/tenants/tenant-a/sources/", body, format="json"), 400)
    assert problem["type"] == "urn:csm:problem:validation"
    assert problem["errors"] == {"config.vendor": ["NUL characters (\\u0000) are not allowed."]}


def test_nul_in_a_pushed_csv_is_a_400(tenant_a, admin_api):
    source = make_for_tenant(_model_of("/api/v1/tenants/{tenant}/sources/{id}/"), tenant_a)
    body = "series,time,value\ncam\x00-1,2026-07-04T14:05:00+02:00,412\n"
    response = admin_api.generic(
        "POST", f"/api/v1/tenants/tenant-a/sources/{source.pk}/observations/", body, content_type="text/csv"
    )
    assert_problem(response, 400)


# --- bodies and headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/tenants/tenant-a/members/", "application/json"),
        ("/api/v1/tenants/tenant-a/areas/", "application/json"),
        ("/api/v1/tenants/tenant-a/areas/import/", "application/geo+json"),
        ("/api/v1/tenants/tenant-a/sources/{source}/observations/", "application/json"),
        ("/api/v1/tenants/tenant-a/sources/{source}/observations/", "text/csv"),
    ],
)
def test_a_body_over_the_limit_is_413(path, content_type, admin_api, tenant_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    if "{source}" in path:
        source = make_for_tenant(_model_of("/api/v1/tenants/{tenant}/sources/{id}/"), tenant_a)
        path = path.replace("{source}", str(source.pk))
    payload = json.dumps({"name": "Boulevard", "pad": "x" * 4096})
    response = admin_api.generic("POST", path, payload, content_type=content_type)
    assert_problem(response, 413)
    with scopes_disabled():
        assert not tenant_a.areas.exists()


def test_an_oversized_authorization_header_is_401(api, tenant_a):
    response = api.get("/api/v1/tenants/", HTTP_AUTHORIZATION="Token csm_" + "A" * 65_536)
    assert_problem(response, 401)


def test_an_oversized_unknown_header_changes_nothing(admin_api):
    response = admin_api.get("/api/v1/tenants/tenant-a/", HTTP_X_PADDING="p" * 65_536)
    assert response.status_code == 200


def test_an_unknown_host_is_a_400(admin_api):
    response = admin_api.get("/api/v1/tenants/tenant-a/", HTTP_HOST="evil.example.org" + "x" * 1000)
    assert response.status_code == 400


# --- paths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tenants/../tenants/tenant-b/",
        "/api/v1/tenants/%2e%2e%2ftenant-b/",
        "/api/v1/tenants/%2e%2e/tenant-b/members/",
        "/api/v1/tenants/tenant-a/..%2f..%2ftenant-b/members/",
        "/api/v1/tenants/tenant-a%2f..%2ftenant-b/members/",
        "/api/v1/tenants/..%5ctenant-b/members/",
        "/api/v1/tenants/tenant-b%00/members/",
        "/api/v1/tenants/%00/",
        "/api/v1/tenants/tenant-a/areas/1%00/",
        "/api/v1/tenants/tenant-a/areas/..%2f..%2f..%2fetc%2fpasswd/",
        "/api/v1/tenants/tenant-a'%20OR%20'1'='1/members/",
        "/sta/v1.1/Things%00",
    ],
)
def test_path_traversal_and_nul_in_slugs_are_a_clean_4xx(path, admin_api, tenant_a, tenant_b):
    member(tenant_b, "admin", username="b-admin")
    response = admin_api.get(path)
    assert_problem(response, 400, 404)


# --- tokens ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Token csm_forged0000000000000000000000000000000",
        "Token csm_' OR '1'='1",
        "Token ",
        "Token a b",
        "Token csm_\u00e9\u00e8",
        "Bearer csm_forged",
        "Basic Zm9vOmJhcg==",
        "Basic !!!not-base64",
    ],
)
def test_forged_credentials_are_401(header, api, tenant_a):
    member(tenant_a, "admin")
    response = api.get("/api/v1/tenants/tenant-a/", HTTP_AUTHORIZATION=header)
    assert_problem(response, 401)


@pytest.mark.clock
def test_an_expired_token_is_401(api, admin_a):
    raw = token_for(admin_a)
    with scopes_disabled():
        ApiToken.objects.filter(user=admin_a).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.get("/api/v1/tenants/tenant-a/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert_problem(response, 401)


def test_a_revoked_token_is_401(api, admin_a):
    raw = token_for(admin_a)
    auth = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    assert api.delete("/api/v1/auth/token/", **auth).status_code == 204
    assert_problem(api.get("/api/v1/tenants/tenant-a/", **auth), 401)


def test_a_token_limited_to_tenant_a_is_404_on_tenant_b(api, tenant_a, tenant_b):
    user = member(tenant_a, "admin", username="both-admin")
    with scopes_disabled():
        Membership.objects.create(tenant=tenant_b, user=user, role="admin")
    make_area(tenant_b, slug="maasboulevard")
    raw = token_for(user, tenant=tenant_a)
    auth = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    assert api.get("/api/v1/tenants/tenant-a/", **auth).status_code == 200
    for path in ("/api/v1/tenants/tenant-b/", "/api/v1/tenants/tenant-b/areas/"):
        assert_problem(api.get(path, **auth), 404)
    response = api.post("/api/v1/tenants/tenant-b/areas/", {"name": "x"}, format="json", **auth)
    assert_problem(response, 404)
    tenants = api.get("/api/v1/tenants/", **auth).json()["results"]
    assert [t["slug"] for t in tenants] == ["tenant-a"]
