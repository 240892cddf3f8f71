"""Fixtures of the configuration package tests: a configured tenant and token-authenticated API clients."""

import pytest
from rest_framework.test import APIClient

from incidents.actions import ensure_default_interventions
from incidents.models import InterventionType
from incidents.services import alert_rule_save
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_event, make_source, member, square, token_for


@pytest.fixture
def client_for():
    """``client_for(user)``: an API client with a token of ``user`` (tokens need no second factor)."""

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client

    return make


@pytest.fixture
def configured_a(tenant_a):
    """Tenant A with a boulevard and a section, an event zone, a source with a secret, rules and a measure."""
    boulevard = make_area(tenant_a, slug="boulevard", geometry=square(4.27, 52.11, 0.004), tags=["Boulevard"])
    make_area(
        tenant_a,
        slug="boulevard-north",
        geometry=square(4.272, 52.112, 0.001),
        parent=boulevard,
        capacity=800,
        usable_surface_m2=5000,
    )
    event = make_event(tenant_a, slug="koningsdag")
    make_area(
        tenant_a,
        slug="stage",
        kind="temporary",
        event=event,
        geometry=square(4.28, 52.10, 0.001),
        density_bands={"busy": 1, "very_busy": 2, "crowded": 3, "critical": 4},
    )
    panel = make_source(
        tenant_a,
        kind="generic_json",
        slug="gps-panel",
        config=GENERIC_JSON_CONFIG,
        secrets={"api_key": "very-secret-key-123"},
        areas=[boulevard],
    )
    with tenant_scope(tenant_a):
        ensure_default_interventions(tenant=tenant_a)
        InterventionType.objects.create(
            tenant=tenant_a, slug="beach-flags", name="Beach flags", description="Red"
        )
        alert_rule_save(
            tenant=tenant_a, actor=None, data={"name": "Pier busy", "kind": "level_now", "level": "busy",
                                               "area": boulevard}
        )  # fmt: skip
        alert_rule_save(tenant=tenant_a, actor=None, data={"name": "Panel down", "kind": "source_down",
                                                            "source": panel})  # fmt: skip
    return tenant_a


GENERIC_JSON_CONFIG = {
    "url": "https://panel.example.org/api/areas",
    "items": "areas",
    "key": "id",
    "time": "timestamp",
    "value": "visitors",
    "metric": "visitor_estimate",
}


@pytest.fixture
def admin_b(tenant_b):
    return member(tenant_b, "admin", username="b-admin")
