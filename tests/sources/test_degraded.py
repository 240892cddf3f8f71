"""Degraded mode without Redis: pushes are still stored, other requests get a retryable 503, never a 500.

The cache points at a closed port, which is what the app sees while Redis restarts. Runs on both stacks
(no Redis server is needed to be refused); tests/sources/test_fault_tolerance.py restarts a real one.
"""

import socket
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.models import Observation
from tenants.choices import Role
from tenants.services import api_token_issue
from tests.factories import make_source, member


@pytest.fixture
def redis_down():
    """Settings whose cache is a Redis that refuses connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once the probe closes: nothing listens there
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    with override_settings(CACHES=caches):
        yield


def test_throttled_endpoint_answers_a_retryable_503_while_redis_is_down(api, admin_a, redis_down):
    response = api.post("/api/v1/auth/token/", {"username": admin_a.username, "password": "wrong"})
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["type"] == "urn:csm:problem:service_unavailable" and body["status"] == 503
    assert "Send the request again after 5 seconds" in body["detail"]


@pytest.mark.clock
def test_push_is_stored_while_the_throttle_cache_is_down(api, tenant_a, redis_down):
    source = make_source(tenant_a, slug="cams")
    camera = member(tenant_a, Role.INTEGRATION, username="vendor")
    _, token = api_token_issue(user=camera, tenant=tenant_a, source_ids=[source.pk], may_create_series=True)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    rows = [
        {
            "series": "cam-1",
            "time": (start + timedelta(minutes=i)).isoformat(),
            "value": 10 + i,
            "metric": "people_count",
        }
        for i in range(3)
    ]
    response = api.post(f"/api/v1/tenants/tenant-a/sources/{source.pk}/observations/", rows, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 3
    with scopes_disabled():
        assert sorted(Observation.objects.filter(series__source=source).values_list("value", flat=True)) == [
            10.0,
            11.0,
            12.0,
        ]
