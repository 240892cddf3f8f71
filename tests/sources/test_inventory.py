"""Privacy: the data inventory generated from the connector registry, and the retention purge it promises."""

from datetime import timedelta
from html import escape

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.choices import Metric
from sources.connectors import connector_kinds
from sources.connectors.base import NO_PERSONAL_DATA, Connector, DataInventory, inventory_problems
from sources.models import Observation
from sources.selectors import data_inventory
from sources.services import Item, ingest, observations_purge
from tenants.scoping import tenant_scope
from tests.factories import make_source


@pytest.mark.parametrize("kind", sorted(connector_kinds()))
def test_every_connector_declares_what_it_stores(kind):
    assert inventory_problems(connector_kinds()[kind]) == []


def test_a_connector_without_a_declaration_is_caught():
    class Undeclared(Connector):
        kind = "undeclared"
        label = "Undeclared"

    class Personal(Connector):
        kind = "personal"
        label = "Personal"
        inventory = DataInventory(
            metrics=("people_count", "face_id"),
            series="one per visitor",
            aggregation="none",
            personal_data="Tracks of individual visitors.",
        )

    assert inventory_problems(Undeclared) == [
        "Undeclared declares no DataInventory (class attribute 'inventory')"
    ]
    problems = inventory_problems(Personal)
    assert any("face_id" in p for p in problems)
    assert any("no personal data" in p for p in problems)


def test_inventory_lists_every_registered_connector_with_the_tenants_retention(tenant_a, tenant_b):
    tenant_a.retention_days = 90
    tenant_a.save()
    make_source(tenant_a, slug="cam-1")
    make_source(tenant_a, slug="cam-2")
    make_source(tenant_b, slug="cam-b")  # another tenant's sources are not counted
    with tenant_scope(tenant_a):
        inventory = data_inventory(tenant=tenant_a)
    assert [entry["kind"] for entry in inventory] == sorted(connector_kinds())
    by_kind = {entry["kind"]: entry for entry in inventory}
    assert by_kind["counting_camera"]["sources_in_use"] == 2
    assert by_kind["parking"]["sources_in_use"] == 0
    assert {m["metric"] for m in by_kind["counting_camera"]["metrics"]} == {
        "people_count",
        "people_in",
        "people_out",
        "people_passing",
    }
    assert {m["unit"] for m in by_kind["counting_camera"]["metrics"]} == {"persons", "persons/min"}
    for entry in inventory:
        cls = connector_kinds()[entry["kind"]]
        assert entry["stores"] == cls.stores
        assert entry["personal_data"] == NO_PERSONAL_DATA
        assert entry["retention_days"] == 90 and "90 days" in entry["retention"]


def test_public_register_shows_the_inventory_and_the_retention_schedule(client, tenant_a):
    tenant_a.public_page_enabled = True
    tenant_a.retention_days = 60
    tenant_a.save()
    make_source(tenant_a, slug="cam-kurhaus")
    html = client.get("/p/tenant-a/register/").content.decode()
    table = html.split('data-testid="data-inventory"', 1)[1].split("</table>", 1)[0]
    for kind, cls in connector_kinds().items():
        assert f'data-kind="{kind}"' in table
        assert escape(cls.inventory.series) in table and escape(cls.inventory.aggregation) in table
    assert table.count(escape(NO_PERSONAL_DATA)) == len(connector_kinds())
    retention = html.split('data-testid="retention"', 1)[1].split("</ul>", 1)[0]
    assert "Observations of every data source" in retention and "deleted 60 days after the fact" in retention


def test_public_register_json_matches_the_inventory(client, tenant_a, tenant_b):
    tenant_a.public_page_enabled = True
    tenant_a.save()
    make_source(tenant_a, slug="cam-kurhaus")
    response = client.get("/p/tenant-a/register.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    with tenant_scope(tenant_a):
        assert body["inventory"] == data_inventory(tenant=tenant_a)
    assert body["retention"][0]["days"] == tenant_a.retention_days
    assert client.get("/p/tenant-b/register.json").status_code == 404  # public page switched off


def test_connector_list_carries_the_declaration(api_as, admin_a):
    connectors = api_as(admin_a).get("/api/v1/connectors/").json()
    camera = next(c for c in connectors if c["kind"] == "counting_camera")
    assert camera["inventory"]["personal_data"] == NO_PERSONAL_DATA
    assert camera["inventory"]["metrics"] == ["people_count", "people_in", "people_out", "people_passing"]


@pytest.mark.clock
def test_purge_deletes_old_observations_and_past_forecasts_and_keeps_the_rest(tenant_a):
    tenant_a.retention_days = 30
    tenant_a.save()
    now = timezone.now().replace(microsecond=0)
    camera = make_source(tenant_a, slug="cams")
    weather = make_source(tenant_a, slug="weather", kind="counting_camera")
    counts = [
        Item(row=i, key="cam-1", time=now - timedelta(days=d), value=5) for i, d in enumerate((1, 29, 31))
    ]
    forecasts = [
        Item(row=i, key="rain", time=now + timedelta(days=d), value=40, metric=Metric.FORECAST_RAIN_CHANCE)
        for i, d in enumerate((-40, -2, 3))
    ]
    with tenant_scope(tenant_a):
        ingest(source=camera, items=counts, may_create_series=True, default_metric="people_count")
        ingest(source=weather, items=forecasts, may_create_series=True)
        assert observations_purge(tenant=tenant_a, now=now) == 2  # the 31-day count, the 40-day-old forecast
    with scopes_disabled():
        left = sorted((now - o.time).days for o in Observation.objects.filter(tenant=tenant_a))
    assert left == [-3, 1, 2, 29]
