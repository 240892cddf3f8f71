"""The onboarding pages under /t/<tenant>/settings/: admins only, no inline script, Dutch too."""

import pytest

from tests.factories import login, member

SECTIONS = ["areas", "crowd-levels", "events", "sources", "members", "alert-rules", "public", "sharing"]
PAGES = ["/t/tenant-a/settings/", *(f"/t/tenant-a/settings/{section}/" for section in SECTIONS)]


def _scripts_are_files_or_data(html: str) -> bool:
    """Every <script> loads a file or carries JSON: a Content Security Policy forbids inline code."""
    heads = [chunk.split(">", 1)[0] for chunk in html.split("<script")[1:]]
    return all(' src="' in head or 'type="application/json"' in head for head in heads)


@pytest.mark.parametrize("url", PAGES)
def test_admin_gets_the_settings_pages(client, tenant_a, url):
    login(client, member(tenant_a, "admin"))
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="settings-config"' in html and "/static/frontend/settings.js" in html
    assert 'name="csrfmiddlewaretoken"' in html or 'id="csrf-token"' in html
    assert _scripts_are_files_or_data(html)
    assert '"api": "/api/v1/tenants/tenant-a/"' in html


@pytest.mark.parametrize("role", ["operator", "analyst", "organiser", "integration"])
@pytest.mark.parametrize("url", PAGES)
def test_other_roles_get_403(client, tenant_a, role, url):
    login(client, member(tenant_a, role))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(client, tenant_a, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_another_tenant_and_unknown_page_are_404(client, tenant_a, tenant_b):
    login(client, member(tenant_a, "admin"))
    assert client.get("/t/tenant-b/settings/").status_code == 404
    assert client.get("/t/tenant-b/settings/areas/").status_code == 404
    assert client.get("/t/tenant-a/settings/no-such-page/").status_code == 404


def test_settings_link_only_for_admins(client, tenant_a):
    login(client, member(tenant_a, "admin"))
    assert "/t/tenant-a/settings/" in client.get("/t/tenant-a/").content.decode()
    login(client, member(tenant_a, "operator"))
    assert "/t/tenant-a/settings/" not in client.get("/t/tenant-a/").content.decode()


def test_settings_pages_speak_dutch(client, tenant_a):
    login(client, member(tenant_a, "admin"))
    client.post("/i18n/setlang/", {"language": "nl", "next": "/t/tenant-a/"})
    html = client.get("/t/tenant-a/settings/sources/").content.decode()
    assert "Verbinding testen" in html and "Bron toevoegen" in html


def test_dashboard_offers_action_logging_by_role(client, tenant_a):
    login(client, member(tenant_a, "operator"))
    html = client.get("/t/tenant-a/").content.decode()
    assert '"mayLogActions": true' in html and 'id="action-dialog"' in html and 'id="actions"' in html
    login(client, member(tenant_a, "analyst"))
    html = client.get("/t/tenant-a/").content.decode()
    assert '"mayLogActions": false' in html and 'id="action-dialog"' not in html
    assert 'id="actions"' in html  # analysts read the log
    login(client, member(tenant_a, "organiser"))
    html = client.get("/t/tenant-a/").content.decode()
    assert '"mayLogActions": true' in html  # on their own event zones; the API checks every area
