"""Shared fixtures: two tenants, a user per role in tenant A, API clients.

``CSM_TEST_CLOCK=<ISO instant with offset>`` moves the whole session's clock there (time-machine, ticking),
so the date-sensitive tests (marker ``clock``) can be run on a chosen day: .ci/run does this for three days
far apart. Tests that start a real worker process are skipped then, since that process keeps the real clock.
"""

import os
from datetime import datetime

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from tenants.choices import Role
from tests.factories import TenantFactory, login, member

_session_clock = None


# The feeds in tests are local HTTP servers replaying recorded payloads, so the suite lets the egress
# policy reach loopback (as an operator would with EGRESS_ALLOW_NETWORKS); tests of the policy itself
# take it away again. Set in the environment too, for the worker processes some tests start.
TEST_EGRESS_ALLOW = ["127.0.0.0/8", "::1/128"]


def pytest_configure(config):
    global _session_clock
    from django.conf import settings

    settings.EGRESS_ALLOW_NETWORKS = TEST_EGRESS_ALLOW
    # Under pytest-xdist the settings gave this process its own Redis database and VAR_DIR (config/settings.py,
    # TEST_WORKER). Processes a test starts are told their broker and files explicitly; they must not take
    # the worker name and separate themselves a second time.
    os.environ.pop("PYTEST_XDIST_WORKER", None)
    os.environ["EGRESS_ALLOW_NETWORKS"] = ",".join(TEST_EGRESS_ALLOW)
    moment = os.environ.get("CSM_TEST_CLOCK", "").strip()
    if not moment:
        return
    destination = datetime.fromisoformat(moment)
    if destination.tzinfo is None:
        raise pytest.UsageError(
            f"CSM_TEST_CLOCK={moment!r} has no time zone offset; write e.g. 2028-02-29T12:00+01:00"
        )
    _session_clock = time_machine.travel(destination, tick=True)
    _session_clock.start()


def pytest_unconfigure(config):
    if _session_clock is not None:
        _session_clock.stop()


def pytest_report_header(config):
    if _session_clock is not None:
        return f"clock moved to {os.environ['CSM_TEST_CLOCK']} (CSM_TEST_CLOCK)"
    return None


def pytest_collection_modifyitems(config, items):
    if _session_clock is None:
        return
    skip = pytest.mark.skip(
        reason="a worker process keeps the real clock; CSM_TEST_CLOCK moves only this one"
    )
    for item in items:
        if "worker" in item.keywords:
            item.add_marker(skip)


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
