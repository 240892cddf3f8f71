"""Sources API: CRUD with write-only encrypted secrets, test actions, health, series, observation queries."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.services import Item, ingest
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_series, make_source
from tests.helpers import assert_problem

SOURCES = "/api/v1/tenants/tenant-a/sources/"


def test_connectors_are_listed_with_their_schema(api_as, admin_a):
    connectors = {c["kind"]: c for c in api_as(admin_a).get("/api/v1/connectors/").json()}
    assert {"counting_camera", "replay"} <= set(connectors)
    camera = connectors["counting_camera"]
    assert camera["push_only"] is True
    assert camera["config_schema"]["properties"]["default_metric"]["enum"] == [
        "people_count",
        "people_in",
        "people_out",
        "people_passing",
    ]
    assert camera["stores"]


def test_admin_creates_a_source_and_secrets_never_come_back(api_as, admin_a, tenant_a):
    make_area(tenant_a, slug="boulevard")
    response = api_as(admin_a).post(
        SOURCES,
        {
            "slug": "cameras",
            "name": "Counting cameras boulevard",
            "kind": "counting_camera",
            "config": {"default_metric": "people_in", "vendor": "ACME"},
            "secrets": {},
            "areas": ["boulevard"],
            "owner": "Gemeente A",
            "purpose": "Crowd levels on the boulevard",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["areas"] == ["boulevard"]
    assert body["poll_interval"] == 60  # the connector's default
    assert body["health"]["status"] == "push"
    assert "secrets" not in body


def test_secrets_a_connector_does_not_take_are_rejected(api_as, admin_a, tenant_a):
    source = make_source(tenant_a, kind="replay", config={"file": "x.csv"})
    response = api_as(admin_a).patch(
        f"{SOURCES}{source.pk}/", {"secrets": {"api_key": "s3cret"}}, format="json"
    )
    problem = assert_problem(response, 400)
    assert "Additional properties are not allowed" in problem["errors"]["secrets"][0]  # not silently dropped


def test_config_is_checked_against_the_connector_schema(api_as, admin_a):
    problem = assert_problem(
        api_as(admin_a).post(
            SOURCES,
            {
                "name": "Cams",
                "slug": "cams",
                "kind": "counting_camera",
                "config": {"default_metric": "vibes", "x": 1},
            },
            format="json",
        ),
        400,
    )
    messages = " ".join(problem["errors"]["config"])
    assert "default_metric: 'vibes' is not one of" in messages
    assert "Additional properties are not allowed ('x' was unexpected)" in messages
    problem = assert_problem(
        api_as(admin_a).post(SOURCES, {"name": "X", "slug": "x", "kind": "crystal_ball"}, format="json"), 400
    )
    assert "Unknown connector 'crystal_ball'" in problem["errors"]["kind"][0]


def test_kind_cannot_change(api_as, admin_a, tenant_a):
    source = make_source(tenant_a)
    problem = assert_problem(
        api_as(admin_a).patch(f"{SOURCES}{source.pk}/", {"kind": "replay"}, format="json"), 400
    )
    assert "cannot change" in problem["errors"]["kind"][0]


@pytest.mark.parametrize("role", ["operator", "analyst"])
def test_readers_cannot_configure_sources(api_as, users, tenant_a, role):
    source = make_source(tenant_a)
    client = api_as(users[role])
    assert client.get(SOURCES).json()["count"] == 1
    assert_problem(client.patch(f"{SOURCES}{source.pk}/", {"name": "x"}, format="json"), 403)
    assert_problem(client.post(f"{SOURCES}{source.pk}/test/"), 403)


def _replay_file(tmp_path, settings, rows):
    settings.VAR_DIR = tmp_path
    (tmp_path / "replay").mkdir()
    path = tmp_path / "replay" / "demo.csv"
    path.write_text("series,time,value\n" + "".join(f"{k},{t},{v}\n" for k, t, v in rows))
    return path


@pytest.mark.clock
def test_test_action_previews_without_storing(api_as, admin_a, tenant_a, tmp_path, settings):
    now = timezone.now().replace(microsecond=0)
    _replay_file(
        tmp_path, settings, [("cam-1", (now - timedelta(minutes=m)).isoformat(), m) for m in (30, 20, 10)]
    )
    source = make_source(tenant_a, kind="replay", config={"file": "demo.csv", "backfill_hours": 1})
    body = api_as(admin_a).post(f"{SOURCES}{source.pk}/test/").json()
    assert body["ok"] is True and body["total"] == 3
    assert body["readings"][0]["key"] == "cam-1"
    with scopes_disabled():
        source.refresh_from_db()
        assert source.series.count() == 0 and source.last_attempt_at is None


def test_test_before_saving_reports_the_error(api_as, admin_a, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    body = (
        api_as(admin_a)
        .post(f"{SOURCES}test/", {"kind": "replay", "config": {"file": "missing.csv"}}, format="json")
        .json()
    )
    assert body["ok"] is False and "Replay file 'missing.csv' not found" in body["error"]
    problem = assert_problem(
        api_as(admin_a).post(f"{SOURCES}test/", {"kind": "replay", "config": {}}, format="json"), 400
    )
    assert "'file' is a required property" in problem["errors"]["config"][0]


def test_health_lists_every_source(api_as, admin_a, tenant_a, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    make_source(tenant_a, slug="cams")
    broken = make_source(tenant_a, kind="replay", slug="broken", config={"file": "missing.csv"})
    from sources.services import source_fetch

    with tenant_scope(tenant_a):
        source_fetch(source=broken)
    health = {h["slug"]: h for h in api_as(admin_a).get(f"{SOURCES}health/").json()}
    assert health["cams"]["status"] == "push"
    assert health["broken"]["status"] == "failing"
    assert health["broken"]["consecutive_failures"] == 1
    assert "not found" in health["broken"]["last_error"]
    assert health["broken"]["circuit"] == "closed"


def test_series_can_be_attached_to_an_area(api_as, admin_a, tenant_a, tenant_b):
    series = make_series(tenant_a, key="cam-1")
    make_area(tenant_a, slug="pier")
    make_area(tenant_b, slug="their-pier")
    client = api_as(admin_a)
    response = client.patch(f"/api/v1/tenants/tenant-a/series/{series.pk}/", {"area": "pier"}, format="json")
    assert response.status_code == 200 and response.json()["area"] == "pier"
    problem = assert_problem(
        client.patch(f"/api/v1/tenants/tenant-a/series/{series.pk}/", {"area": "their-pier"}, format="json"),
        400,
    )
    assert "does not exist" in problem["errors"]["area"][0]
    assert client.get("/api/v1/tenants/tenant-a/series/", {"area": "pier"}).json()["count"] == 1


@pytest.fixture
def hour_of_counts(tenant_a):
    """Counts every minute from 10:00 to 10:59 UTC on 1 July 2026: value = minute."""
    source = make_source(tenant_a, slug="cams")
    start = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    items = [Item(row=m, key="cam-1", time=start + timedelta(minutes=m), value=m) for m in range(60)]
    with tenant_scope(tenant_a):
        ingest(source=source, items=items, may_create_series=True, default_metric="people_count")
        return source.series.get()


OBS = "/api/v1/tenants/tenant-a/observations/"
RANGE = {"start": "2026-07-01T10:00:00Z", "end": "2026-07-01T11:00:00Z"}


def test_raw_observations(api_as, admin_a, hour_of_counts):
    body = api_as(admin_a).get(OBS, {**RANGE, "series": hour_of_counts.pk}).json()
    points = body["series"][0]["points"]
    assert len(points) == 60
    assert points[0] == ["2026-07-01T10:00:00+00:00", 0.0]
    assert body["series"][0]["key"] == "cam-1"


@pytest.mark.parametrize(
    ("resample", "agg", "expected"),
    [
        ("15min", "mean", [7.0, 22.0, 37.0, 52.0]),
        ("15min", "sum", [105.0, 330.0, 555.0, 780.0]),
        ("5min", "max", [4.0, 9.0, 14.0, 19.0, 24.0, 29.0, 34.0, 39.0, 44.0, 49.0, 54.0, 59.0]),
        ("hour", "min", [0.0]),
        ("day", "sum", [1770.0]),
    ],
)
def test_resampled_observations(api_as, admin_a, hour_of_counts, resample, agg, expected):
    body = api_as(admin_a).get(OBS, {**RANGE, "source": "cams", "resample": resample, "agg": agg}).json()
    points = body["series"][0]["points"]
    assert [value for _, value in points] == expected
    if resample == "15min":
        assert [t for t, _ in points][:2] == ["2026-07-01T10:00:00+00:00", "2026-07-01T10:15:00+00:00"]
    if resample == "day":  # days are the tenant's local days (Europe/Amsterdam)
        assert points[0][0] == "2026-07-01T00:00:00+02:00"


def test_observations_as_csv(api_as, admin_a, hour_of_counts):
    response = api_as(admin_a).get(OBS, {**RANGE, "resample": "15min", "agg": "sum", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["source", "series", "metric", "unit", "time", "value"]
    assert rows[1] == ["cams", "cam-1", "people_count", "persons", "2026-07-01T10:00:00+00:00", "105.0"]
    assert len(rows) == 5


def test_source_observations_endpoint_and_bad_queries(api_as, admin_a, hour_of_counts, tenant_a):
    client = api_as(admin_a)
    source = hour_of_counts.source
    assert len(client.get(f"{SOURCES}{source.pk}/observations/", RANGE).json()["series"][0]["points"]) == 60
    assert (
        "no time zone"
        in assert_problem(client.get(OBS, {"start": "2026-07-01T10:00:00"}), 400)["errors"]["start"][0]
    )
    assert (
        "end must be after start"
        in assert_problem(client.get(OBS, {"start": RANGE["end"], "end": RANGE["start"]}), 400)["errors"][
            "end"
        ][0]
    )
    assert_problem(client.get(OBS, {"resample": "minute"}), 400)
    assert_problem(client.get(OBS, {"series": "abc"}), 400)
    assert_problem(client.get(OBS, {"series": "99999"}), 404)


def test_observations_of_another_tenant_are_invisible(api_as, admin_a, tenant_b):
    theirs = make_series(tenant_b, key="their-cam")
    assert_problem(api_as(admin_a).get(OBS, {"series": theirs.pk}), 404)
