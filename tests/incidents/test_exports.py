"""Action log as CSV: every entry in the filter, streamed, properly quoted, no spreadsheet formulas."""

import csv
import io

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.export import safe_cell
from tests.factories import make_area, make_event, square
from tests.helpers import assert_problem

ACTIONS = "/api/v1/tenants/tenant-a/actions/"


def log(client, **body):
    payload = {"intervention": "stop-inflow", "areas": ["pier"], "started_at": "2026-07-04T15:00:00+02:00"}
    response = client.post(ACTIONS, {**payload, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def rows_of(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_action_log_as_csv(api_as, users, tenant_a):
    make_area(tenant_a, slug="pier")
    make_area(tenant_a, slug="beach", geometry=square(4.26))
    operator = api_as(users["operator"])
    first = log(operator, description='=cmd|" /C calc"!A0', areas=["pier", "beach"])
    second = log(operator, description='Line one, "quoted"\nline two', started_at="2026-07-04T17:00:00+02:00")
    log(operator, intervention="traffic-controllers", started_at="2026-07-04T12:00:00+02:00")
    operator.patch(f"{ACTIONS}{second['id']}/", {"status": "ended", "ended_at": "2026-07-04T18:00:00+02:00"})
    response = api_as(users["analyst"]).get(ACTIONS, {"format": "csv", "page_size": 1})  # no paging in CSV
    assert response["Content-Disposition"] == 'attachment; filename="actions-tenant-a.csv"'
    rows = rows_of(response)
    assert [int(r["id"]) for r in rows][:2] == [second["id"], first["id"]]  # newest start first, as the list
    assert len(rows) == 3
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[first["id"]]["description"] == "'" + '=cmd|" /C calc"!A0'  # not a formula any more
    assert by_id[first["id"]]["areas"] == "beach;pier"
    assert by_id[second["id"]]["description"] == 'Line one, "quoted"\nline two'  # quoting round-trips
    assert by_id[second["id"]]["status"] == "ended" and by_id[second["id"]]["revision"] == "2"
    assert by_id[second["id"]]["created_by"] == users["operator"].username
    assert by_id[second["id"]]["started_at"] == "2026-07-04T15:00:00+00:00"
    filtered = rows_of(
        api_as(users["analyst"]).get(ACTIONS, {"format": "csv", "intervention": "traffic-controllers"})
    )
    assert [r["intervention"] for r in filtered] == ["traffic-controllers"]
    assert rows_of(api_as(users["analyst"]).get(ACTIONS, {"format": "csv", "status": "ended"}))[0][
        "id"
    ] == str(second["id"])


def test_csv_query_count_does_not_grow_with_the_log(api_as, users, tenant_a):
    make_area(tenant_a, slug="pier")
    operator = api_as(users["operator"])
    log(operator)
    analyst = api_as(users["analyst"])
    with CaptureQueriesContext(connection) as one:
        rows_of(analyst.get(ACTIONS, {"format": "csv"}))
    for _ in range(5):
        log(operator)
    with CaptureQueriesContext(connection) as six:
        assert len(rows_of(analyst.get(ACTIONS, {"format": "csv"}))) == 6
    assert len(six) == len(one)


def test_organiser_exports_own_zones_only(api_as, users, tenant_a):
    make_area(tenant_a, slug="pier")
    event = make_event(tenant_a, slug="koningsdag", organisers=[users["organiser"].username])
    make_area(tenant_a, slug="coolsingel", kind="temporary", event=event, geometry=square(4.479, 51.921))
    log(api_as(users["operator"]))
    log(api_as(users["organiser"]), areas=["coolsingel"], started_at="2027-04-27T14:00:00+02:00")
    rows = rows_of(api_as(users["organiser"]).get(ACTIONS, {"format": "csv"}))
    assert [r["areas"] for r in rows] == ["coolsingel"]


def test_unknown_format_is_400(api_as, users):
    problem = assert_problem(api_as(users["analyst"]).get(ACTIONS, {"format": "xlsx"}), 400)
    assert "xlsx" in problem["errors"]["format"][0]


def test_safe_cell():
    assert [safe_cell(v) for v in ("=1+1", "+31 6", "-x", "@A1", "\tx", "plain", -3.5, 7, None)] == [
        "'=1+1",
        "'+31 6",
        "'-x",
        "'@A1",
        "'\tx",
        "plain",
        -3.5,
        7,
        None,
    ]


def test_list_filters_are_checked_and_apply_to_the_csv_too(api_as, users, tenant_a):
    make_area(tenant_a, slug="pier")
    operator = api_as(users["operator"])
    early = log(operator, started_at="2026-07-04T13:00:00+02:00")
    late = log(operator, started_at="2026-07-04T17:00:00+02:00")
    window = {"since": "2026-07-04T14:00:00+02:00", "until": "2026-07-04T18:00:00Z"}
    assert [e["id"] for e in operator.get(ACTIONS, window).json()["results"]] == [late["id"]]
    assert [int(r["id"]) for r in rows_of(operator.get(ACTIONS, {**window, "format": "csv"}))] == [late["id"]]
    assert early["id"] != late["id"]
    naive = assert_problem(operator.get(ACTIONS, {"since": "2026-07-04T14:00:00"}), 400)
    assert "has no time zone" in naive["errors"]["since"][0]
    unknown = assert_problem(operator.get(ACTIONS, {"status": "forgotten"}), 400)
    assert "forgotten" in unknown["errors"]["status"][0]
    assert_problem(operator.get("/api/v1/tenants/tenant-a/incidents/", {"kind": "meteor"}), 400)
    assert_problem(operator.get("/api/v1/tenants/tenant-a/series/", {"metric": "happiness"}), 400)
