"""The areas' hourly history (GET .../areas/history/): people or passer-by flow per area and whole hour,
with the level the area's own rules give, for the dashboard's time slider."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from areas.history import area_level_history
from areas.models import Area
from sources.services import Item, ingest
from tenants.choices import Role
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_source, square

NOW = datetime(2026, 7, 4, 14, 20, tzinfo=UTC)  # 20 minutes into the hour: 14:00 is not whole yet
HISTORY = "/api/v1/tenants/tenant-a/areas/history/"
H13, H12 = datetime(2026, 7, 4, 13, tzinfo=UTC), datetime(2026, 7, 4, 12, tzinfo=UTC)


def store(tenant, source, rows):
    """rows: (key, metric, area slug, time, value[, facility, width])."""
    items = []
    for i, (key, metric, area, time, value, *line) in enumerate(rows):
        facility, width = line or ("", None)
        items.append(
            Item(row=i, key=key, time=time, value=value, metric=metric, area=area, facility=facility,
                 line_width_m=width)
        )  # fmt: skip
    with tenant_scope(tenant):
        report = ingest(source=source, items=items, may_create_series=True, now=NOW)
    assert report.rejected == 0, report.errors


@pytest.fixture
def seafront(tenant_a):
    """A pier counted by a camera, a boulevard of two counted sections, and beach stairs counted only by a
    counting line (two walking directions, 5 m wide) with its own flow bands."""
    make_area(tenant_a, "pier", geometry=square(size=0.001), capacity=1000)
    boulevard = make_area(tenant_a, "boulevard", geometry=square(lon=4.28, size=0.002))
    with tenant_scope(tenant_a):
        north = make_area(tenant_a, "north", geometry=square(lon=4.28, size=0.001))
        south = make_area(tenant_a, "south", geometry=square(lon=4.281, size=0.001))
        Area.objects.filter(pk__in=[north.pk, south.pk]).update(parent=boulevard)
    make_area(
        tenant_a, "stairs", geometry=square(lon=4.27, size=0.0002),
        flow_bands={"busy": 10, "very_busy": 30, "crowded": 60, "critical": 80},
    )  # fmt: skip
    cameras = make_source(tenant_a, slug="cameras")
    at = lambda hour, minute: datetime(2026, 7, 4, hour, minute, tzinfo=UTC)  # noqa: E731
    store(
        tenant_a,
        cameras,
        [
            ("cam-pier", "people_count", "pier", at(12, 30), 100),
            ("cam-pier", "people_count", "pier", at(13, 10), 300),
            ("cam-pier", "people_count", "pier", at(13, 40), 500),
            ("cam-pier", "people_count", "pier", at(14, 10), 900),  # the current hour: not in the history
            ("cam-north", "people_count", "north", at(13, 30), 1000),
            ("cam-south", "people_count", "south", at(13, 30), 2000),
            ("cam-north", "people_count", "north", at(12, 30), 700),  # south has no 12:00: no sum then
            ("stairs:down", "people_passing", "stairs", at(12, 30), 20, "stairs", 5.0),
            ("stairs:up", "people_passing", "stairs", at(12, 30), 10, "stairs", 5.0),
            ("stairs:down", "people_passing", "stairs", at(13, 10), 100, "stairs", 5.0),
            ("stairs:up", "people_passing", "stairs", at(13, 10), 50, "stairs", 5.0),
            ("stairs:down", "people_passing", "stairs", at(13, 40), 120, "stairs", 5.0),
            ("stairs:up", "people_passing", "stairs", at(13, 40), 70, "stairs", 5.0),
        ],
    )
    return tenant_a


def by_slug(body):
    return {a["slug"]: a for a in body["areas"]}


def points(area):
    return {datetime.fromisoformat(p["time"]): p for p in area["points"]}


@time_machine.travel(NOW, tick=False)
def test_history_gives_people_or_flow_and_the_level_per_whole_hour(seafront, api_as, users):
    response = api_as(users[Role.ANALYST]).get(HISTORY)
    assert response.status_code == 200, response.content
    body = response.json()
    assert datetime.fromisoformat(body["end"]) == datetime(2026, 7, 4, 14, tzinfo=UTC)
    assert datetime.fromisoformat(body["start"]) == datetime(2026, 7, 3, 13, tzinfo=UTC)  # 25 h
    areas = by_slug(body)
    assert set(areas) == {"pier", "boulevard", "north", "south", "stairs"}

    pier = areas["pier"]
    assert (pier["quantity"], pier["flow_method"]) == ("people", None)
    assert set(points(pier)) == {H12, H13}  # the current hour (14:00) is not whole yet
    assert points(pier)[H13]["people"] == 400.0  # the hour's mean
    assert points(pier)[H13]["flow"] is None
    assert points(pier)[H13]["level"] == "quiet"  # 40 % of a capacity of 1000

    # The parent without counts of its own is the sum of its sections, where both have the hour.
    assert {t: p["people"] for t, p in points(areas["boulevard"]).items()} == {H13: 3000.0}

    # Counting lines: the directions of one line add up, over its width; the area's own flow bands.
    stairs = areas["stairs"]
    assert (stairs["quantity"], stairs["flow_method"]) == ("flow", "fruin")
    hour13, hour12 = points(stairs)[H13], points(stairs)[H12]
    assert hour13["people"] is None
    assert hour13["flow"] == pytest.approx((110 + 60) / 5)  # 34 persons/min/m
    assert hour13["level"] == "very_busy"  # its bands; by the tenant's (Fruin's) it would be busy
    assert (hour12["flow"], hour12["level"]) == (pytest.approx(30 / 5), "quiet")


@time_machine.travel(NOW, tick=False)
def test_the_level_of_an_hour_is_the_rule_of_the_live_status(seafront):
    """The same area rule as the status: a Weidmann area's hour has its density estimate and level."""
    with tenant_scope(seafront):
        stairs = Area.objects.get(slug="stairs")
        stairs.flow_method = "weidmann"
        stairs.save(update_fields=["flow_method"])
        areas = list(Area.objects.filter(tenant=seafront))
        _start, _end, histories = area_level_history(tenant=seafront, areas=areas, hours=2)
        expected = stairs.assess_flow((110 + 60) / 5, None)
    history = next(h for h in histories if h.slug == "stairs")
    assert history.flow_method == "weidmann"
    hour = next(p for p in history.points if p.time == H13)
    assert (hour.level, hour.density) == (expected.level, pytest.approx(expected.density, abs=0.001))
    assert hour.density is not None


@time_machine.travel(NOW, tick=False)
def test_hours_limits_the_window_and_is_checked(seafront, api_as, users):
    client = api_as(users[Role.OPERATOR])
    body = client.get(HISTORY, {"hours": 1}).json()
    assert {t for a in body["areas"] for t in points(a)} == {H13}
    assert datetime.fromisoformat(body["start"]) == datetime(2026, 7, 4, 14, tzinfo=UTC) - timedelta(hours=1)
    for bad in (0, 10_000, "many"):
        response = client.get(HISTORY, {"hours": bad})
        assert response.status_code == 400
        assert response.json()["status"] == 400


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("role", [Role.ORGANISER, Role.INTEGRATION])
def test_history_needs_the_view_right_like_the_observations(seafront, api_as, users, role):
    client = api_as(users[role])
    assert client.get(HISTORY).status_code == 403
    assert client.get("/api/v1/tenants/tenant-a/observations/").status_code == 403
