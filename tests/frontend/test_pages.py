"""Pages: log-in, the tenant list and tenant pages behind the membership check."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from sources.connectors import get_connector
from sources.models import Source
from tenants.scoping import tenant_scope
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    login,
    make_alert_rule,
    make_area,
    make_series,
    make_source,
    member,
    square,
)


@pytest.mark.django_db
def test_login_page_and_login(client, tenant_a):
    user = member(tenant_a, "operator")
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/t/tenant-a/"  # one tenant: straight there
    assert b"Gemeente A" in response.content


def test_home_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_home_lists_several_tenants(client, tenant_a, tenant_b):
    user = member(tenant_a, "operator")
    MembershipFactory(tenant=tenant_b, user=user, role="analyst")
    login(client, user)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Gemeente A" in response.content and b"Gemeente B" in response.content


def test_tenant_page_is_404_for_non_members(client, tenant_a, tenant_b):
    user = member(tenant_a, "admin")
    login(client, user)
    assert client.get("/t/tenant-a/").status_code == 200
    assert client.get("/t/tenant-b/").status_code == 404
    assert client.get("/t/no-such-tenant/").status_code == 404


def test_tenant_page_redirects_anonymous_to_login(client, tenant_a):
    response = client.get("/t/tenant-a/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/t/tenant-a/"


def test_inactive_membership_has_no_tenant_page(client, tenant_a):
    login(client, member(tenant_a, "admin", is_active=False))
    assert client.get("/t/tenant-a/").status_code == 404


def test_static_css_is_served_by_the_app(client, db):
    response = client.get("/static/frontend/csm.css")
    try:
        assert response.status_code == 200
        assert b"Crowd Safety Manager" in b"".join(response.streaming_content)
    finally:
        response.close()


def test_dashboard_carries_its_config_and_no_inline_script(client, tenant_a):
    login(client, member(tenant_a, "operator"))
    response = client.get("/t/tenant-a/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="dashboard-config"' in html and "/static/frontend/dashboard/main.js" in html
    assert "vendor/maplibre-gl/maplibre-gl-csp.js" in html
    # Every <script> either loads a file or carries JSON data: a Content Security Policy forbids inline code.
    for chunk in html.split("<script")[1:]:
        assert ' src="' in chunk.split(">", 1)[0] or 'type="application/json"' in chunk.split(">", 1)[0]
    assert '"mayAcknowledge": true' in html and '"tileUrl": ""' in html


def test_dashboard_speaks_dutch_after_the_language_switch(client, tenant_a):
    login(client, member(tenant_a, "operator"))
    response = client.post("/i18n/setlang/", {"language": "nl", "next": "/t/tenant-a/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/t/tenant-a/"
    assert "Openstaande meldingen" in response.content.decode()


def test_sources_page_shows_health(client, tenant_a):
    source = make_source(tenant_a, slug="cam-kurhaus", name="Camera Kurhaus")
    Source.objects.with_scopes_disabled().filter(pk=source.pk).update(
        last_error="HTTP 503 from vendor", consecutive_failures=2
    )
    login(client, member(tenant_a, "analyst"))
    html = client.get("/t/tenant-a/sources/").content.decode()
    assert "Camera Kurhaus" in html and "HTTP 503 from vendor" in html


def test_sources_page_is_forbidden_to_organisers(client, tenant_a):
    login(client, member(tenant_a, "organiser"))
    assert client.get("/t/tenant-a/sources/").status_code == 403


def test_public_pages_are_404_until_switched_on(client, tenant_a):
    assert client.get("/p/tenant-a/").status_code == 404
    assert client.get("/p/tenant-a/register/").status_code == 404
    assert client.get("/p/no-such-tenant/").status_code == 404


@pytest.mark.clock
def test_public_page_shows_levels_in_words_without_counts(client, tenant_a):
    tenant_a.public_page_enabled = True
    tenant_a.save()
    now = timezone.now()
    busy = make_area(tenant_a, slug="kurhaus", name="Kurhausplein", capacity=1000)
    small = make_area(tenant_a, slug="pier", name="De Pier", capacity=10, geometry=square(lon=4.28))
    make_series(tenant_a, key="cam-k", area=busy, latest_value=812, latest_time=now)
    make_series(tenant_a, key="cam-p", area=small, latest_value=12, latest_time=now)
    response = client.get("/p/tenant-a/")
    assert response.status_code == 200
    assert "max-age=60" in response["Cache-Control"] and "public" in response["Cache-Control"]
    html = response.content.decode()
    assert "Kurhausplein" in html and "very busy" in html  # 81 % of capacity
    assert "812" not in html  # levels only, never counts
    # 12 people is 120 % of the pier's capacity, but below the small-count threshold (15): shown as quiet.
    pier = html.split("De Pier", 1)[1].split("</li>", 1)[0]
    assert "quiet" in pier and "avoid" not in pier
    dutch = client.get("/p/tenant-a/?lang=nl").content.decode()
    assert "erg druk" in dutch and "Hoe druk is het?" in dutch


def test_public_register_lists_sources_and_algorithms(client, tenant_a):
    tenant_a.public_page_enabled = True
    tenant_a.retention_days = 90
    tenant_a.save()
    make_source(
        tenant_a, slug="cam-kurhaus", name="Camera Kurhaus", owner="Gemeente A", purpose="Crowd safety"
    )
    make_alert_rule(tenant_a, name="Crowded now")
    html = client.get("/p/tenant-a/register/").content.decode()
    camera = get_connector("counting_camera")
    assert "Camera Kurhaus" in html and "Crowd safety" in html and "90 days" in html
    assert escape(camera.stores) in html and escape(camera.legal_basis) in html
    assert "Crowded now" in html and "fusion rule" in html


def test_admin_sets_the_map_tile_url(api_as, tenant_a):
    client = api_as(member(tenant_a, "admin"))
    url = "https://tiles.example.nl/{z}/{x}/{y}.png"
    response = client.patch("/api/v1/tenants/tenant-a/", {"map_tile_url": url})
    assert response.status_code == 200 and response.json()["map_tile_url"] == url
    assert client.patch("/api/v1/tenants/tenant-a/", {"map_tile_url": "ftp://x"}).status_code == 400


def test_public_cards_show_expected_levels_only_from_a_trustworthy_forecast(tenant_a):
    from zoneinfo import ZoneInfo

    from areas.models import AreaForecast
    from frontend.views import public_area_cards

    now = datetime(2026, 7, 4, 12, 30, tzinfo=UTC)
    area = make_area(tenant_a, slug="kurhaus", name="Kurhausplein", capacity=1000)
    points = [
        {"time": (now.replace(minute=0) + timedelta(hours=k)).isoformat(), "p10": 700, "p50": 900, "p90": 1100,
         "level": "crowded", "level_p90": "critical"}
        for k in range(1, 8)
    ]  # fmt: skip
    with tenant_scope(tenant_a):
        forecast = AreaForecast.objects.create(
            tenant=tenant_a, area=area, issued_at=now.replace(minute=0), method="gbm", points=points,
            trust={"ok": True},
        )  # fmt: skip

        def upcoming():
            (card,) = public_area_cards(
                tenant=tenant_a, areas=[area], now=now, language="en", tz=ZoneInfo("Europe/Amsterdam")
            )
            return [item["level"] for item in card["upcoming"]]

        assert upcoming() == ["crowded"] * 4
        forecast.trust = {"ok": False, "reason": "stuck_counts", "since": now.isoformat(), "hours": 6}
        forecast.save(update_fields=["trust"])
        assert upcoming() == []
