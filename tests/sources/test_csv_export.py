"""Observation CSV export: filters apply, and text from a feed cannot become a spreadsheet formula."""

import csv
import io
from datetime import UTC, datetime, timedelta

from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source

OBS = "/api/v1/tenants/tenant-a/observations/"
RANGE = {"start": "2026-07-01T10:00:00Z", "end": "2026-07-01T11:00:00Z"}


def test_csv_export_filters_and_escapes_formulas(api_as, admin_a, tenant_a):
    make_area(tenant_a, slug="pier")
    source = make_source(tenant_a, slug="cams")
    start = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    hostile = '=HYPERLINK("http://evil.example","click")'
    items = [
        Item(row=0, key=hostile, time=start, value=3.0, area="pier"),
        Item(row=1, key="@SUM(A1)", time=start + timedelta(minutes=1), value=5.0),
        Item(row=2, key="cam-2, north", time=start + timedelta(minutes=2), value=7.0),
    ]
    with tenant_scope(tenant_a):
        ingest(source=source, items=items, may_create_series=True, default_metric="people_count")
    response = api_as(admin_a).get(OBS, {**RANGE, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert header == ["source", "series", "metric", "unit", "time", "value"]
    keys = sorted(row[1] for row in rows)
    assert keys == sorted(["'" + hostile, "'@SUM(A1)", "cam-2, north"])  # quoting keeps the comma in one cell
    assert {row[1]: row[5] for row in rows}["'" + hostile] == "3.0"
    only_pier = api_as(admin_a).get(OBS, {**RANGE, "format": "csv", "area": "pier"})
    _, *pier_rows = list(csv.reader(io.StringIO(only_pier.content.decode())))
    assert [row[1] for row in pier_rows] == ["'" + hostile]
