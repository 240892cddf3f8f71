"""The pages of joint operations: the tenant's list, an operation's own dashboard and the public page of an
operation. The first two are drawn by frontend/static/frontend/operation/*.js over the operations API;
tests/frontend/test_browser.py walks through one in a real browser."""

import json

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from sharing.models import OperationParticipant
from sharing.operations import operation_leave
from tenants.scoping import tenant_scope
from tests.factories import (
    TenantFactory,
    login,
    make_agreement,
    make_area,
    make_operation,
    make_series,
    member,
    square,
)


def _config(html: str) -> dict:
    start = html.index('id="operation-config"')
    return json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])


@pytest.fixture
def operation(tenant_a, tenant_b):
    """A running operation led by A that B joined."""
    return make_operation(tenant_a, tenant_b, slug="koningsdag", name="Koningsdag 2027")


def _detail(operation, tenant) -> str:
    return f"/t/{tenant.slug}/operations/{operation.pk}/"


@pytest.mark.parametrize("who", ["lead", "other"])
def test_list_shows_the_operations_with_status_and_participants(client, tenant_a, tenant_b, operation, who):
    tenant = tenant_a if who == "lead" else tenant_b
    login(client, member(tenant, "operator"))
    response = client.get(f"/t/{tenant.slug}/operations/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Koningsdag 2027" in html and "Gemeente A" in html and "Gemeente B" in html
    assert f'data-id="{operation.pk}"' in html and 'data-status="running"' in html
    assert f'href="{_detail(operation, tenant)}"' in html
    assert f'href="/t/{tenant.slug}/operations/" aria-current="page"' in html  # in the tenant nav
    assert 'id="operation-form"' not in html  # creating one is for admins
    assert "/static/frontend/operation/list.js" in html


def test_admin_gets_the_create_form_and_the_invitation_buttons(client, tenant_a, tenant_b):
    invited = make_operation(tenant_b, TenantFactory(slug="tenant-c"), slug="havenfeest", name="Havenfeest")
    with scopes_disabled():
        invited.parties.add(tenant_a)
        OperationParticipant.objects.create(operation=invited, tenant=tenant_a, state="invited")
    login(client, member(tenant_a, "admin"))
    html = client.get("/t/tenant-a/operations/").content.decode()
    for name in ("slug", "name", "description", "starts_at", "ends_at", "public_page", "invite"):
        assert f'name="{name}"' in html  # where the API's per-field errors are shown
    row = html.split(f'data-id="{invited.pk}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-my-state="invited"' in html and 'data-step="join"' in row and 'data-step="decline"' in row
    assert _config(html)["timeZone"] == tenant_a.time_zone
    # The invitee sees the operation and the invitation, not the picture.
    detail = client.get(_detail(invited, tenant_a)).content.decode()
    assert "Havenfeest" in detail and 'data-step="join"' in detail
    assert 'id="map"' not in detail and 'id="op-log"' not in detail
    assert _config(detail)["myState"] == "invited"


def test_status_filter(client, tenant_a, tenant_b, operation):
    login(client, member(tenant_a, "analyst"))
    assert "Koningsdag 2027" in client.get("/t/tenant-a/operations/?status=running").content.decode()
    assert "Koningsdag 2027" not in client.get("/t/tenant-a/operations/?status=over").content.decode()


@pytest.mark.parametrize("who", ["lead", "other"])
def test_detail_renders_for_participants(client, tenant_a, tenant_b, operation, who):
    tenant = tenant_a if who == "lead" else tenant_b
    login(client, member(tenant, "operator"))
    response = client.get(_detail(operation, tenant))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Koningsdag 2027" in html and "Led by Gemeente A" in html
    assert 'data-tenant="tenant-a"' in html and 'data-tenant="tenant-b"' in html
    for element in ('id="map"', 'id="op-status"', 'id="op-alerts"', 'id="op-log"', 'id="log-form"'):
        assert element in html
    assert 'id="duty-toggle"' in html and 'data-error-for="areas"' in html
    assert 'id="contribute-form"' not in html and 'id="close-operation"' not in html  # admins only
    config = _config(html)
    assert config["operation"] == operation.pk and config["myState"] == "joined"
    assert config["isLead"] is (who == "lead") and config["refreshSeconds"] == 15
    assert config["api"] == f"/api/v1/tenants/{tenant.slug}/" and config["timeZone"] == tenant.time_zone
    assert "/static/frontend/operation/main.js" in html
    for chunk in html.split("<script")[1:]:  # no inline code: the Content Security Policy forbids it
        head = chunk.split(">", 1)[0]
        assert ' src="' in head or 'type="application/json"' in head


def test_admins_get_their_part_lead_closes_others_leave(client, tenant_a, tenant_b, operation):
    login(client, member(tenant_a, "admin"))
    lead = client.get(_detail(operation, tenant_a)).content.decode()
    assert 'id="contribute-form"' in lead and 'id="invite-form"' in lead and 'id="close-operation"' in lead
    assert 'id="leave-operation"' not in lead
    login(client, member(tenant_b, "admin"))
    other = client.get(_detail(operation, tenant_b)).content.decode()
    assert 'id="contribute-form"' in other and 'id="leave-operation"' in other
    assert 'id="invite-form"' not in other and 'id="close-operation"' not in other


def test_detail_is_404_outside_the_operation_and_after_leaving(client, tenant_a, tenant_b, operation):
    outsider = TenantFactory(slug="tenant-c", name="Gemeente C")
    login(client, member(outsider, "admin"))
    assert client.get(_detail(operation, outsider)).status_code == 404
    assert "Koningsdag" not in client.get("/t/tenant-c/operations/").content.decode()
    with tenant_scope(tenant_b):
        operation_leave(operation=operation, tenant=tenant_b, actor=None)
    login(client, member(tenant_b, "admin"))
    assert client.get(_detail(operation, tenant_b)).status_code == 404
    assert "Koningsdag" not in client.get("/t/tenant-b/operations/").content.decode()
    assert client.get("/t/tenant-b/operations/999999/").status_code == 404


def test_roles_without_the_view_right_get_403(client, tenant_a, operation):
    login(client, member(tenant_a, "organiser"))
    assert client.get("/t/tenant-a/operations/").status_code == 403
    assert client.get(_detail(operation, tenant_a)).status_code == 403
    assert "/operations/" not in client.get("/t/tenant-a/").content.decode()  # no nav link either


def test_operation_pages_speak_dutch(client, tenant_a, tenant_b, operation):
    login(client, member(tenant_a, "admin"))
    client.post("/i18n/setlang/", {"language": "nl", "next": "/t/tenant-a/"})
    listing = client.get("/t/tenant-a/operations/").content.decode()
    assert "Operaties" in listing and "Gezamenlijke operaties" in listing and "loopt" in listing
    detail = client.get(_detail(operation, tenant_a)).content.decode()
    assert "Gezamenlijk actielogboek" in detail and "Gebieden inbrengen" in detail
    strings = _config(detail)["strings"]
    assert (
        strings["next_hour"] == "komend uur"
        and strings["saved_entry"] == "Toegevoegd aan het gezamenlijke logboek."
    )


# --- the public page of an operation ------------------------------------------------------------------


@pytest.fixture
def public_operation(tenant_a, tenant_b):
    """A public operation led by A: A brings in a busy square, B a station with a small crowd (below B's
    own small-count threshold, though not below A's)."""
    now = timezone.now()
    operation = make_operation(
        tenant_a, tenant_b, slug="koningsdag", name="Koningsdag 2027", public_page=True
    )
    tenant_b.small_count_threshold = 45
    tenant_b.save()
    square_a = make_area(tenant_a, slug="kurhaus", name="Kurhausplein", capacity=1000)
    station = make_area(
        tenant_b, slug="station", name="Stationsplein", capacity=50, geometry=square(lon=4.32, lat=52.08)
    )
    make_series(tenant_a, key="cam-k", area=square_a, latest_value=812, latest_time=now)
    make_series(tenant_b, key="cam-s", area=station, latest_value=40, latest_time=now)
    make_agreement(tenant_a, areas=[square_a], operation=operation, recipient=None, kinds=["status"])
    make_agreement(tenant_b, areas=[station], operation=operation, recipient=None, kinds=["status"])
    return operation


@pytest.mark.clock
def test_public_operation_page_shows_labels_per_area_and_owner_without_counts(client, public_operation):
    response = client.get("/p/tenant-a/operations/koningsdag/")
    assert response.status_code == 200
    assert "max-age=60" in response["Cache-Control"] and "public" in response["Cache-Control"]
    html = response.content.decode()
    assert "Koningsdag 2027" in html and "Gemeente A" in html and "Gemeente B" in html
    kurhaus = html.split("<h3>Kurhausplein</h3>", 1)[1].split("</li>", 1)[0]
    assert "very busy" in kurhaus  # 81 % of its capacity
    # 40 people is 80 % of the station's capacity, but below B's small-count threshold (45): quiet.
    station = html.split("<h3>Stationsplein</h3>", 1)[1].split("</li>", 1)[0]
    assert "quiet" in station and "very busy" not in station
    for count in ("812", "40 people", "people", "capacity"):
        assert count not in html  # levels in words only, never counts
    assert 'id="public-map"' in html and "/static/frontend/operation/public.js" in html
    data = json.loads(html.split('id="public-map-data"', 1)[1].split(">", 1)[1].split("</script>", 1)[0])
    assert {f["properties"]["owner_name"] for f in data["features"]} == {"Gemeente A", "Gemeente B"}
    assert set(data["features"][0]["properties"]) == {"name", "owner_name", "lvl", "label"}
    assert "Common action log" not in html and "alert" not in html.lower()
    dutch = client.get("/p/tenant-a/operations/koningsdag/?lang=nl").content.decode()
    assert 'lang="nl"' in dutch and "erg druk" in dutch and "rustig" in dutch
    assert "Gezamenlijke operatie" in dutch and "English" in dutch and "812" not in dutch


def test_public_operation_page_is_404_unless_the_lead_publishes_it(client, tenant_a, tenant_b, operation):
    assert client.get("/p/tenant-a/operations/koningsdag/").status_code == 404  # public_page is off
    with scopes_disabled():
        operation.public_page = True
        operation.save()
    assert client.get("/p/tenant-a/operations/koningsdag/").status_code == 200
    assert client.get("/p/tenant-b/operations/koningsdag/").status_code == 404  # B does not lead it
    assert client.get("/p/tenant-a/operations/no-such-operation/").status_code == 404
    assert client.get("/p/no-such-tenant/operations/koningsdag/").status_code == 404
    # It does not need the lead's own public page, and does not link to it while that is off.
    html = client.get("/p/tenant-a/operations/koningsdag/?lang=en").content.decode()
    assert 'href="/p/tenant-a/?' not in html and "No areas are published." in html
