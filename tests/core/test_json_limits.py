"""Deeply nested JSON gets a 400 problem document from every endpoint (never a RecursionError 500), and
the same limit holds where the platform reads JSON outside a request (feeds, package files)."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core import jsonlimits
from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, ParseError, Payload
from tenants.services import api_token_issue
from tests.factories import make_area, make_source, token_for
from tests.helpers import assert_problem

DEEP_ARRAYS = "[" * 100_000
DEEP_OBJECTS = '{"a":' * 100_000
JUST_TOO_DEEP = "[" * 65 + "]" * 65
DEEP_WITH_NUL = '{"name": "Pier\\u0000", "x": ' + "[" * 5_000 + "]" * 5_000 + "}"


@pytest.fixture
def camera(tenant_a):
    area = make_area(tenant_a, slug="boulevard")
    return make_source(tenant_a, slug="cameras", config={"default_metric": "people_count"}, areas=[area])


def _endpoints(tenant_a, camera, users):
    """(name, method, path, content type, Authorization header) for every kind of JSON endpoint."""
    push_token = api_token_issue(user=users["integration"], tenant=tenant_a, source_ids=[camera.pk])[1]
    admin = f"Token {token_for(users['admin'], tenant_a)}"
    operator = f"Token {token_for(users['operator'], tenant_a)}"
    push = f"Token {push_token}"
    return [
        ("token", "post", "/api/v1/auth/token/", "application/json", None),
        (
            "push",
            "post",
            f"/api/v1/tenants/tenant-a/sources/{camera.pk}/observations/",
            "application/json",
            push,
        ),
        ("config import", "post", "/api/v1/tenants/tenant-a/config/import/", "application/json", admin),
        ("alerts", "post", "/api/v1/tenants/tenant-a/alerts/", "application/json", operator),
        ("area import", "post", "/api/v1/tenants/tenant-a/areas/import/", "application/geo+json", admin),
        ("area patch", "patch", "/api/v1/tenants/tenant-a/areas/boulevard/", "application/json", admin),
        ("source test", "post", "/api/v1/tenants/tenant-a/sources/test/", "application/json", admin),
        ("sta", "post", "/sta/v1.1/tenants/tenant-a/Observations", "application/json", push),
        ("sta text/plain", "post", "/sta/v1.1/tenants/tenant-a/Observations", "text/plain", push),
        ("page", "post", "/accounts/login/", "application/json", None),
    ]


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS, JUST_TOO_DEEP, DEEP_WITH_NUL])
def test_every_endpoint_refuses_deep_json_with_a_problem(client, tenant_a, camera, users, body):
    for name, method, path, content_type, auth in _endpoints(tenant_a, camera, users):
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        response = getattr(client, method)(path, body, content_type=content_type, **headers)
        problem = assert_problem(response, 400, "parse_error")
        assert "nested more than 64 levels deep" in problem["detail"], (name, problem)
        assert "line 1, column" in problem["detail"], (name, problem)


def test_json_at_the_limit_is_parsed_normally(client, tenant_a, camera, users):
    """64 levels pass the guard and reach the view, which judges the content (here: not a push row)."""
    token = api_token_issue(user=users["integration"], tenant=tenant_a, source_ids=[camera.pk])[1]
    body = "[" * 64 + "]" * 64
    response = client.post(
        f"/api/v1/tenants/tenant-a/sources/{camera.pk}/observations/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    problem = assert_problem(response, 400, "rows_rejected")
    assert problem["errors"][0]["reason"].startswith("Row is not an object")


def test_brackets_inside_strings_do_not_count(client, tenant_a, users):
    message = "[" * 200 + "{" * 200
    token = token_for(users["operator"], tenant_a)
    make_area(tenant_a, slug="pier")
    response = client.post(
        "/api/v1/tenants/tenant-a/alerts/",
        json.dumps({"message": message, "area": "pier"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["message"] == message


def test_oversized_body_is_413_on_every_path(client, settings, tenant_a, camera, users):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps([{"series": "cam", "time": "2030-01-01T00:00:00Z", "value": 1}] * 100)
    for name, method, path, content_type, auth in _endpoints(tenant_a, camera, users):
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        response = getattr(client, method)(path, body, content_type=content_type, **headers)
        assert "1000" in assert_problem(response, 413, "too_large")["detail"], name


def test_scanner_reports_the_position_and_ignores_escaped_quotes():
    text = '{"a": "quote \\" [[[[", "b": ' + "[" * 10 + "]" * 10 + "}"
    assert jsonlimits.depth_error(text, limit=11) is None  # the object and ten arrays
    error = jsonlimits.depth_error(text, limit=10)
    assert error is not None and error.pos == text.index("[" * 10) + 9
    assert (error.lineno, error.colno) == (1, error.pos + 1)
    # bytes (UTF-8 with multi-byte characters before the bracket) and UTF-16 give the same character position
    data = ('{"naam": "Kurhaus café", "x": ' + "[" * 5 + "]" * 5 + "}").encode()
    assert jsonlimits.depth_error(data, limit=4).pos == data.decode().index("[") + 3
    assert jsonlimits.depth_error(data.decode().encode("utf-16"), limit=4).pos == data.decode().index("[") + 3
    # malformed documents are left to the parser
    assert jsonlimits.depth_error('"unterminated [[[[[', limit=2) is None
    # ... but brackets before an unterminated string or a mismatched bracket still count
    assert jsonlimits.depth_error("[" * 5 + '"', limit=4).pos == 4
    assert jsonlimits.depth_error("[" * 5 + "}" * 5, limit=4).pos == 4
    with pytest.raises(json.JSONDecodeError):
        jsonlimits.loads(DEEP_ARRAYS)


@pytest.mark.parametrize("kind", ["generic_json", "buienradar", "parking"])
def test_feed_with_deep_json_is_a_parse_error_not_a_crash(kind):
    url = "https://feed.example.nl/x.json"
    context = ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam")
    config = {"url": url, "index_url": url, "value": "v", "series": "k", "time": "t", "items": "@"}
    connector = get_connector(kind)(config=config, context=context, now=datetime(2025, 6, 1, 12, tzinfo=UTC))
    payload = Payload(url=url, body=DEEP_ARRAYS.encode(), content_type="application/json")
    try:
        messages = connector.parse(payload).warnings  # parking: one facility's bad answer is a warning
    except ParseError as exc:
        messages = [exc.message]
    assert len(messages) == 1 and "nested more than 64 levels" in messages[0], messages


def test_config_import_command_refuses_a_deep_file(tenant_b, tmp_path):
    target = tmp_path / "deep.json"
    target.write_text(DEEP_OBJECTS)
    with pytest.raises(CommandError, match="nested more than 64 levels deep") as caught:
        call_command(
            "config_import", "--tenant", "tenant-b", str(target), stdout=StringIO(), stderr=StringIO()
        )
    assert caught.value.returncode == 2
