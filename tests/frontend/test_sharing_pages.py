"""The settings page "Sharing" (agreements with other organisations) and what the dashboard is told about
shared data. The page itself is drawn by settings.js over the agreements API; tests/frontend/test_browser.py
walks through offering, accepting and ending an agreement in a real browser."""

import json

import pytest

from tests.factories import MembershipFactory, login, member

URL = "/t/tenant-a/settings/sharing/"


def _config(html: str, name: str) -> dict:
    start = html.index(f'id="{name}"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


def test_admin_gets_the_sharing_page(client, tenant_a):
    login(client, member(tenant_a, "admin"))
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for element in ('id="received-table"', 'id="offered-table"', 'id="offer-form"', 'name="recipient"'):
        assert element in html
    for field in ("areas", "kinds"):
        assert f'data-error-for="{field}"' in html  # where the API's per-field errors are shown
    assert f'href="{URL}" aria-current="page"' in html  # listed among the settings pages
    config = _config(html, "settings-config")
    assert config["page"] == "sharing" and config["timeZone"] == tenant_a.time_zone
    kinds = ["status", "forecasts", "alerts", "series", "action_log"]
    assert [kind for kind, _label in config["shareKinds"]] == kinds
    statuses = {"offered", "scheduled", "active", "expired", "declined", "ended"}
    assert set(config["agreementStatuses"]) == statuses
    assert {"accept", "decline", "end", "confirm_end"} <= set(config["strings"])


@pytest.mark.parametrize("role", ["operator", "analyst", "organiser", "integration"])
def test_non_admins_get_403(client, tenant_a, role):
    login(client, member(tenant_a, role))
    assert client.get(URL).status_code == 403


def test_non_member_gets_404(client, tenant_a, tenant_b):
    login(client, member(tenant_b, "admin"))
    assert client.get(URL).status_code == 404
    # An admin of both sees each organisation's own page.
    user = member(tenant_a, "admin", username="admin-of-both")
    MembershipFactory(tenant=tenant_b, user=user, role="admin")
    login(client, user)
    assert client.get(URL).status_code == 200
    assert client.get("/t/tenant-b/settings/sharing/").status_code == 200


def test_sharing_page_speaks_dutch(client, tenant_a):
    login(client, member(tenant_a, "admin"))
    client.post("/i18n/setlang/", {"language": "nl", "next": "/t/tenant-a/"})
    html = client.get(URL).content.decode()
    assert "Delen" in html and "Ontvangen overeenkomsten" in html and "Een overeenkomst aanbieden" in html
    config = _config(html, "settings-config")
    assert config["strings"]["accept"] == "Accepteren" and config["strings"]["end"] == "Beëindigen"
    assert dict(config["shareKinds"])["alerts"] == "meldingen"
    assert config["agreementStatuses"]["offered"] == "aangeboden"


@pytest.mark.parametrize(
    ("role", "shared"), [("admin", True), ("operator", True), ("analyst", True), ("organiser", False)]
)
def test_dashboard_reads_shared_data_with_the_view_right(client, tenant_a, role, shared):
    """Shared areas and alerts need the view right; organisers (their own event zones only) get neither,
    so their dashboard never asks and never meets a 403."""
    login(client, member(tenant_a, role))
    html = client.get("/t/tenant-a/").content.decode()
    config = _config(html, "dashboard-config")
    assert config["mayViewShared"] is shared
    assert ('id="shared-areas"' in html) is shared
    assert config["strings"]["shared_by"] == "Shared by %(owner)s"


def test_dashboard_shared_strings_in_dutch(client, tenant_a):
    login(client, member(tenant_a, "operator"))
    client.post("/i18n/setlang/", {"language": "nl", "next": "/t/tenant-a/"})
    config = _config(client.get("/t/tenant-a/").content.decode(), "dashboard-config")
    assert config["strings"]["shared_by"] == "Gedeeld door %(owner)s"
    assert config["strings"]["shared_read_only"] == "gedeeld, alleen lezen"
