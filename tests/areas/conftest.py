import pytest

from tests.factories import token_for


@pytest.fixture
def admin_api(api, admin_a):
    """API client with a token of tenant A's admin."""
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(admin_a)}")
    return api


AREAS = "/api/v1/tenants/tenant-a/areas/"
EVENTS = "/api/v1/tenants/tenant-a/events/"
