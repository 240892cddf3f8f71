"""Fixtures of the sources tests: a counting-camera source and a push client for it."""

import pytest

from tenants.services import api_token_issue
from tests.factories import make_area, make_source


@pytest.fixture
def camera(tenant_a):
    area = make_area(tenant_a, slug="boulevard")
    return make_source(tenant_a, slug="cameras", config={"default_metric": "people_count"}, areas=[area])


@pytest.fixture
def pusher(api, tenant_a, camera, users):
    """A client with a push token of the integration account, limited to the camera source."""
    token = api_token_issue(
        user=users["integration"], tenant=tenant_a, source_ids=[camera.pk], may_create_series=True
    )[1]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api
