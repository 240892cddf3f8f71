"""Hardening: check --deploy with production settings, Content Security Policy, security headers, session
expiry, log redaction, masked URLs in fetch errors."""

import logging
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from config.redaction import RedactingFilter, redact
from config.security import LOGIN_AT_SESSION_KEY, SEEN_AT_SESSION_KEY
from sources.http import safe_url
from tenants.choices import Role
from tests.factories import login, member

BASE_DIR = Path(django_settings.BASE_DIR)
TEMPLATES = BASE_DIR / "frontend" / "templates"


def _directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


# --- check --deploy -----------------------------------------------------------------------------------


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
    }
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "csm.example.nl",
            "CSRF_TRUSTED_ORIGINS": "https://csm.example.nl",
            "SECURE_SSL_REDIRECT": "true",
            "SECURE_HSTS_SECONDS": "31536000",
            "SECURE_COOKIES": "true",
            "BEHIND_TLS_PROXY": "true",
            "VAR_DIR": str(tmp_path),
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def _start(tmp_path, **variables) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process with only ``variables`` deciding the secret key."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "SECRET_KEY_FILE"}
    }
    env.update(
        {
            "ENV_FILE": "",
            "VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **variables,
        }
    )
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(len(settings.SECRET_KEY))",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_secret_key_refuses_to_start_outside_debug(tmp_path):
    result = _start(tmp_path, DEBUG="false")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "var" / "secret_key").exists(), "no key may be generated outside DEBUG"


@pytest.mark.slow
def test_secret_key_from_the_environment_a_file_or_debug(tmp_path):
    assert _start(tmp_path, DEBUG="false", SECRET_KEY="k" * 60).stdout.strip() == "60"
    key_file = tmp_path / "key"
    key_file.write_text("f" * 55 + "\n")
    assert _start(tmp_path, DEBUG="false", SECRET_KEY_FILE=str(key_file)).stdout.strip() == "55"
    missing = _start(tmp_path, DEBUG="false", SECRET_KEY_FILE=str(tmp_path / "nope"))
    assert missing.returncode != 0 and "cannot be read" in missing.stderr
    key_file.write_text("  \n")
    empty = _start(tmp_path, DEBUG="false", SECRET_KEY_FILE=str(key_file))
    assert empty.returncode != 0 and "is empty" in empty.stderr
    # a laptop with DEBUG: a random key is generated once and kept
    first = _start(tmp_path, DEBUG="true")
    assert first.returncode == 0, first.stderr
    kept = (tmp_path / "var" / "secret_key").read_text().strip()
    assert len(kept) >= 50 and _start(tmp_path, DEBUG="true").stdout == first.stdout


def test_hsts_and_ssl_redirect_in_production(client, db, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/accounts/login/")["Location"].startswith("https://")
    response = client.get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# --- Content Security Policy and headers ---------------------------------------------------------------


def test_pages_carry_a_strict_policy_and_the_security_headers(client, db):
    response = client.get("/accounts/login/")
    policy = _directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert "blob:" in policy["worker-src"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "geolocation=()" in response["Permissions-Policy"]
    assert "camera=()" in response["Permissions-Policy"] and "microphone=()" in response["Permissions-Policy"]


def test_api_responses_carry_the_headers_too(api, db):
    response = api.get("/api/v1/tenants/")
    assert response.status_code == 401
    assert "Content-Security-Policy" in response and response["X-Content-Type-Options"] == "nosniff"


def test_dashboard_allows_the_tenants_own_tile_host_only_there(client, tenant_a, tenant_b):
    tenant_a.map_tile_url = "https://tiles.gemeente-a.nl/{z}/{x}/{y}.png"
    tenant_a.save()
    operator = member(tenant_a, Role.OPERATOR)
    login(client, operator)
    policy = _directives(client.get("/t/tenant-a/")["Content-Security-Policy"])
    assert "https://tiles.gemeente-a.nl" in policy["img-src"]
    assert "https://tiles.gemeente-a.nl" in policy["connect-src"]
    assert policy["script-src"] == ["'self'"]
    other = _directives(client.get("/t/tenant-a/sources/")["Content-Security-Policy"])
    assert "https://tiles.gemeente-a.nl" not in other["img-src"]


def test_tile_host_with_a_subdomain_placeholder_becomes_a_wildcard(client, tenant_a):
    tenant_a.map_tile_url = "https://{s}.tiles.example.nl/{z}/{x}/{y}.png"
    tenant_a.save()
    login(client, member(tenant_a, Role.OPERATOR))
    policy = _directives(client.get("/t/tenant-a/")["Content-Security-Policy"])
    assert "https://*.tiles.example.nl" in policy["img-src"]


def test_api_docs_get_inline_styles_but_no_inline_scripts(client, db):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]
    html = response.content.decode()
    inline = [head for head in re.findall(r"<script([^>]*)>", html) if "src=" not in head]
    assert inline == []  # Swagger UI's start-up script is a file (drf-spectacular's split view)


def test_templates_have_no_inline_script_or_style():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script\b([^>]*)>", text):
            if "src=" not in match[1] and "application/json" not in match[1]:
                offenders.append(f"{path.name}: inline <script>")
        if re.search(r"<style\b", text):
            offenders.append(f"{path.name}: <style>")
        if re.search(r"\sstyle\s*=", text):
            offenders.append(f"{path.name}: style attribute")
        if re.search(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.name}: inline event handler")
    assert offenders == []


# --- sessions ---------------------------------------------------------------------------------------------


def _age_session(client, **keys):
    session = client.session
    session.update(keys)
    session.save()


def test_session_ends_after_idle_time(client, tenant_a, settings):
    settings.SESSION_IDLE_TIMEOUT = 1800
    login(client, member(tenant_a, Role.OPERATOR))
    assert client.get("/t/tenant-a/").status_code == 200
    _age_session(client, **{SEEN_AT_SESSION_KEY: int(time.time()) - 1700})
    assert client.get("/t/tenant-a/").status_code == 200  # still inside the idle window, and refreshed
    assert client.session[SEEN_AT_SESSION_KEY] >= int(time.time()) - 60
    _age_session(client, **{SEEN_AT_SESSION_KEY: int(time.time()) - 1801})
    response = client.get("/t/tenant-a/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_session_ends_after_its_maximum_age_even_when_active(client, tenant_a, settings):
    login(client, member(tenant_a, Role.OPERATOR))
    assert client.get("/t/tenant-a/").status_code == 200
    _age_session(client, **{LOGIN_AT_SESSION_KEY: int(time.time()) - settings.SESSION_COOKIE_AGE - 1})
    assert client.get("/t/tenant-a/").status_code == 302


def test_session_cookie_ends_with_the_browser(client, tenant_a):
    operator = member(tenant_a, Role.OPERATOR)
    response = client.post("/accounts/login/", {"username": operator.username, "password": "secret-pass-123"})
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and not cookie["max-age"] and not cookie["expires"]


# --- logs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "leak"),
    [
        ("Authorization: Token csm_3f9a8b7c6d5e4f3a2b1c", "csm_3f9a8b7c6d5e4f3a2b1c"),
        ("headers={'Authorization': 'Bearer eyJhbGciOi.J9.abc'}", "eyJhbGciOi"),
        ("login password=hunter2&next=/", "hunter2"),
        ('{"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("GET https://bob:pa55word@feeds.example.nl/data", "pa55word"),
        ("GET https://feeds.example.nl/data?api_key=abc123&x=1", "abc123"),
        ("stored gAAAAABnX2Vfn3k1X2V4YW1wbGVfdG9rZW5fZm9yX3Rlc3Rz", "gAAAAABnX2Vf"),
        ("invited jan.jansen@denhaag.nl", "jan.jansen@denhaag.nl"),
        ("request from 203.0.113.17", "203.0.113.17"),
        ("request from 2001:db8::17", "2001:db8::17"),
    ],
)
def test_redaction_removes_secrets_and_personal_data(message, leak):
    assert leak not in redact(message)


def test_redaction_keeps_ordinary_text():
    text = "fetch start source=12 tenant=3 due=2026-07-04T14:05:00+02:00 lag=0.250 series key=cam-7"
    assert redact(text) == text


def test_every_log_handler_redacts(settings):
    assert all("redact" in handler.get("filters", []) for handler in settings.LOGGING["handlers"].values())
    handlers = [
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactingFilter) for f in h.filters)
    ]
    assert handlers  # the configured console handler is live on the root logger


def test_filter_redacts_arguments_and_exceptions():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "token for %s is %s", ("a@b.nl", "csm_abcdefgh12"), None
    )
    try:
        raise ValueError("password=topsecret")
    except ValueError:
        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "a@b.nl" not in formatted and "csm_abcdefgh12" not in formatted and "topsecret" not in formatted
    assert "ValueError" in formatted


def test_fetch_error_messages_mask_credentials_in_urls():
    shown = safe_url("https://user:pw@feeds.example.nl/v1/counts?apikey=abc&area=7&token=t0k")
    assert "pw" not in shown and "abc" not in shown and "t0k" not in shown
    assert shown.startswith("https://feeds.example.nl/v1/counts?") and "area=7" in shown


def test_a_failing_fetch_does_not_put_the_key_in_its_message(httpserver):
    from sources.connectors.base import FetchError
    from sources.http import HttpClient

    httpserver.expect_request("/counts").respond_with_data("no", status=403)
    with pytest.raises(FetchError) as failure:
        HttpClient().get(httpserver.url_for("/counts") + "?access_token=sEcReT99")
    assert "sEcReT99" not in failure.value.message and "403" in failure.value.message


# --- rate limits ------------------------------------------------------------------------------------------


def test_push_endpoint_answers_429_after_its_rate(api, tenant_a, users, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    from tenants.services import api_token_issue
    from tests.factories import make_source

    # DRF binds the rates when it is imported; lower the push rate for this test only.
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "push": "3/min"}
    )
    camera = make_source(tenant_a, slug="cameras", config={"default_metric": "people_count"})
    token = api_token_issue(user=users[Role.INTEGRATION], tenant=tenant_a, source_ids=[camera.pk])[1]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    url = f"/api/v1/tenants/tenant-a/sources/{camera.pk}/observations/"
    statuses = [api.post(url, [], format="json").status_code for _ in range(4)]
    assert 429 not in statuses[:3]
    assert statuses[3] == 429
    last = api.post(url, [], format="json")
    assert last["Content-Type"] == "application/problem+json" and last.json()["status"] == 429


# --- CSRF and the schema format ------------------------------------------------------------------------


def test_csrf_failure_on_api_paths_is_a_problem_document(db, users):
    from django.test import Client

    from tests.factories import login

    browser = login(Client(enforce_csrf_checks=True), users["operator"])
    for path in ("/api/v1/no-such-endpoint/", "/sta/v1.1/no-such-endpoint"):
        response = browser.post(path, "{}", content_type="application/json")
        assert response.status_code == 403, (path, response.content)
        assert response["Content-Type"] == "application/problem+json", path
        body = response.json()
        assert body["type"] == "urn:csm:problem:csrf_failed"
        assert "X-CSRFToken" in body["detail"] and "CSRF cookie not set" in body["detail"]
    # an API view under session authentication: a problem document too (DRF's own check)
    response = browser.post("/api/v1/tenants/tenant-a/alerts/", "{}", content_type="application/json")
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"
    assert "CSRF" in response.json()["detail"]
    # pages keep Django's HTML page
    page = browser.post("/i18n/setlang/", {"language": "nl"})
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_schema_format_json_returns_json(client, db):
    as_json = client.get("/api/v1/schema/?format=json")
    assert as_json.status_code == 200
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert as_json.json()["openapi"].startswith("3.")
    as_yaml = client.get("/api/v1/schema/?format=yaml")
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi") and as_yaml.content.startswith(
        b"openapi: 3."
    )
    assert client.get("/api/v1/schema/").content.startswith(b"openapi: 3.")  # YAML stays the default
    assert client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["openapi"].startswith("3.")
    unknown = client.get("/api/v1/schema/?format=xml")
    assert unknown.status_code == 400 and unknown["Content-Type"] == "application/problem+json"
    assert "use 'json' or 'yaml'" in str(unknown.json()["errors"])
