"""Shared fixtures: two tenants, a user per role in tenant A, API clients."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tenants.choices import Role
from tests.factories import TenantFactory, login, member


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's cost protects real accounts; in tests it only burns CPU."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_crowd_picture(settings):
    """Tests change data and read the status at once; tests/areas/test_picture_cache.py covers sharing."""
    settings.CROWD_PICTURE_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters and heartbeats live in the cache; start every test from an empty one."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tenant_a(db):
    return TenantFactory(slug="tenant-a", name="Gemeente A")


@pytest.fixture
def tenant_b(db):
    return TenantFactory(slug="tenant-b", name="Gemeente B")


@pytest.fixture
def users(tenant_a):
    """One user per role in tenant A, keyed by role."""
    return {role: member(tenant_a, role) for role in Role.values}


@pytest.fixture
def admin_a(users):
    return users[Role.ADMIN]


@pytest.fixture
def api():
    """An unauthenticated API client."""
    return APIClient()


@pytest.fixture
def api_as():
    """``api_as(user)``: an API client logged in as ``user`` (session, as the browser does, with the second
    factor confirmed for users who need one)."""

    def make(user):
        return login(APIClient(), user)

    return make
