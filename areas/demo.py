"""Demo geography: Scheveningen for den-haag, King's Day zones in central Rotterdam for rotterdam and
koningsdag-events, and the Scheveningen harbour and a command post perimeter for politie-den-haag.

The shapes are traced from the public base map (BRT/OpenStreetMap) as centre lines with widths, then
widened geodesically, so the sections follow the real boulevard from the harbour past the Kurhaus to
the pier. They are demo data at street-level accuracy, not survey data.
"""

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pyproj import Geod

from tenants.choices import Role
from tenants.demo import register_demo_seeder

from .buildings import read_buildings
from .choices import AreaKind
from .demo_counts import (
    STAIRS,
    STAIRS_SENSOR,
    STAIRS_WIDTH_M,
    Scenario,
    scenario_path,
    write_replay_csv,
    write_stairs_csv,
)
from .forecasts import refresh_forecasts
from .geometry import measure
from .models import Area, Event, ForecastModel
from .services import (
    area_create,
    area_update,
    building_layer_replace,
    event_create,
    event_set_organisers,
)
from .status import calibrate_panels

GEOD = Geod(ellps="WGS84")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def strip(centre: list[tuple[float, float]], left_m: float, right_m: float) -> dict:
    """A polygon around a centre line (lon, lat points): ``left_m`` to its left, ``right_m`` to its right."""
    lefts, rights = [], []
    for i, (lon, lat) in enumerate(centre):
        a = centre[max(i - 1, 0)]
        b = centre[min(i + 1, len(centre) - 1)]
        heading, _, _ = GEOD.inv(a[0], a[1], b[0], b[1])
        llon, llat, _ = GEOD.fwd(lon, lat, heading - 90, left_m)
        rlon, rlat, _ = GEOD.fwd(lon, lat, heading + 90, right_m)
        lefts.append([llon, llat])
        rights.append([rlon, rlat])
    ring = lefts + rights[::-1] + [lefts[0]]
    return {"type": "Polygon", "coordinates": [ring]}


def box(lon: float, lat: float, width_m: float, height_m: float, heading: float = 0.0) -> dict:
    """A rectangle centred on (lon, lat), ``height_m`` along ``heading`` (degrees from north)."""
    half = height_m / 2
    start_lon, start_lat, _ = GEOD.fwd(lon, lat, heading + 180, half)
    end_lon, end_lat, _ = GEOD.fwd(lon, lat, heading, half)
    return strip([(start_lon, start_lat), (end_lon, end_lat)], width_m / 2, width_m / 2)


# Boulevard centre line, south-west (harbour) to north-east (pier). Sea to the left (north-west).
HARBOUR = (4.2622, 52.1022)
ZEEKANT = (4.2676, 52.1068)
KURHAUS_FRONT = (4.2727, 52.1117)
PIER_ENTRANCE = (4.2757, 52.1148)
PIER_HEAD = (4.2688, 52.1178)

SCHEVENINGEN = [
    {
        "slug": "boulevard",
        "name": "Boulevard Scheveningen",
        "geometry": strip([HARBOUR, ZEEKANT, KURHAUS_FRONT, PIER_ENTRANCE], 15, 15),
        "capacity": None,
        "tags": ["boulevard"],
        "description": "The seafront promenade from the harbour to the pier.",
    },
    {
        "slug": "boulevard-haven",
        "name": "Boulevard: harbour to Zeekant",
        "geometry": strip([HARBOUR, ZEEKANT], 15, 15),
        "parent": "boulevard",
        "tags": ["boulevard"],
    },
    {
        "slug": "boulevard-zeekant",
        "name": "Boulevard: Zeekant to Kurhaus",
        "geometry": strip([ZEEKANT, KURHAUS_FRONT], 15, 15),
        "parent": "boulevard",
        "tags": ["boulevard"],
    },
    {
        "slug": "boulevard-kurhaus",
        "name": "Boulevard: Kurhaus to the pier",
        "geometry": strip([KURHAUS_FRONT, PIER_ENTRANCE], 15, 15),
        "parent": "boulevard",
        "tags": ["boulevard"],
    },
    {
        "slug": "strand-scheveningen",
        "name": "Beach in front of the boulevard",
        "geometry": strip([HARBOUR, ZEEKANT, KURHAUS_FRONT, PIER_ENTRANCE], 140, -15),
        "usable_share": 0.8,  # the strip along the water line is not usable at high tide
        "tags": ["beach"],
    },
    {
        "slug": "de-pier",
        "name": "De Pier",
        "geometry": strip([PIER_ENTRANCE, PIER_HEAD], 12, 12),
        "capacity": 3000,
        "tags": ["pier"],
    },
    {
        "slug": "kurhausplein",
        "name": "Gevers Deynootplein (Kurhaus square)",
        "geometry": box(4.2768, 52.1106, 70, 110, heading=35),
        "capacity": 1500,
        "tags": ["square"],
    },
    {
        "slug": "tramhaltes-kurhaus",
        "name": "Tram stops Kurhaus and Gevers Deynootweg",
        "geometry": box(4.2795, 52.1098, 25, 160, heading=35),
        "capacity": 400,
        "tags": ["transport"],
    },
]


def _from(origin: tuple[float, float], heading: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], heading, metres)
    return lon, lat


# The beach stairs in front of the Kurhaus, from the boulevard's sea side (15 m north-west of its centre
# line) down to the beach: 5 m wide, a counting camera across the top step. Passer-by counts only.
STAIRS_TOP = _from(KURHAUS_FRONT, 305, 16)
STAIRS_AREA = {
    "slug": STAIRS,
    "name": "Beach stairs at the Kurhaus",
    "geometry": box(*_from(KURHAUS_FRONT, 305, 23), STAIRS_WIDTH_M, 14, heading=305),
    "capacity": None,
    "tags": ["beach", "stairs"],
    "description": "Stairs from the boulevard down to the beach; a counting line across the top step "
    "counts people passing in both directions (a flow, not people present).",
}
STAIRS_SOURCE = "telcamera-strandtrap"
STAIRS_FILE = "strandtrap-kurhaus.csv"  # beside the main replay file, written for the same scenario


# Buildings around the Kurhaus square for the 3D map: hand-made footprints, plausible heights (m), not
# survey data. Long sides follow the square (heading 35 degrees); the sea is to the north-west.
SQUARE_CENTRE = (4.2768, 52.1106)
KURHAUS = _from(SQUARE_CENTRE, 305, 65)
BUILDINGS = [
    # (id, centre, width across, length along heading 35, height)
    ("kurhaus", KURHAUS, 40, 110, 24.0),
    ("kurhaus-koepel", KURHAUS, 22, 22, 38.0),  # the dome over the Kurzaal
    ("palace-promenade", _from(SQUARE_CENTRE, 125, 65), 40, 100, 16.0),
    ("hotel-plein-noord", _from(SQUARE_CENTRE, 35, 85), 30, 40, 30.0),
    ("appartementen-plein-zuid", _from(SQUARE_CENTRE, 215, 85), 30, 40, 21.0),
    ("hotel-boulevard", _from(KURHAUS, 35, 100), 30, 50, 45.0),
]


def building_footprints() -> dict:
    """The demo's buildings as the FeatureCollection an admin would upload (height in metres)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": slug,
                "geometry": box(centre[0], centre[1], width, length, heading=35),
                "properties": {"height": height},
            }
            for slug, centre, width, length, height in BUILDINGS
        ],
    }


def kings_day(now: datetime) -> dict:
    """The next King's Day (27 April, the 26th when the 27th is a Sunday) whose market is not over yet."""

    def day_of(year: int) -> date:
        day = date(year, 4, 27)
        return day - timedelta(days=1) if day.weekday() == 6 else day

    year = now.astimezone(AMSTERDAM).year
    if datetime.combine(day_of(year), time(21, 0), tzinfo=AMSTERDAM) <= now:
        year += 1
    day = day_of(year)
    return {
        "slug": f"koningsdag-{year}",
        "name": f"Koningsdag {year} Rotterdam",
        "start": datetime.combine(day, time(8, 0), tzinfo=AMSTERDAM),
        "end": datetime.combine(day, time(21, 0), tzinfo=AMSTERDAM),
        "expected_attendance": 250_000,
        "organiser": "Stichting Koningsdag Rotterdam",
        "description": "Free market and stages in the city centre.",
    }


KINGS_DAY_ZONES = [
    {
        "slug": "coolsingel",
        "name": "Coolsingel (city hall to Beursplein)",
        "geometry": strip([(4.4783, 51.9246), (4.4790, 51.9213), (4.4802, 51.9187)], 25, 25),
        "capacity": 30000,
        "tags": ["vrijmarkt"],
    },
    {
        "slug": "binnenrotte",
        "name": "Binnenrotte and Markthal",
        "geometry": strip([(4.4876, 51.9232), (4.4869, 51.9199)], 40, 40),
        "capacity": 25000,
        "tags": ["stage"],
    },
    {
        "slug": "schouwburgplein",
        "name": "Schouwburgplein",
        "geometry": box(4.4738, 51.9210, 110, 140, heading=10),
        "capacity": 15000,
        "tags": ["stage"],
    },
    {
        "slug": "erasmusbrug-noord",
        "name": "Erasmusbrug north ramp and Boompjes",
        "geometry": strip([(4.4858, 51.9118), (4.4838, 51.9088)], 20, 20),
        "capacity": 8000,
        "tags": ["bridge"],
    },
]


# The police unit's own areas: the harbour quays (Dr. Lelykade, where the boats and the fish restaurants
# draw crowds on King's Day) and the perimeter around its mobile command post on the Gevers Deynootweg.
POLICE_AREAS = [
    {
        "slug": "scheveningen-haven",
        "name": "Scheveningen Haven (Dr. Lelykade quays)",
        "geometry": strip([(4.2598, 52.0958), (4.2636, 52.0992), (4.2668, 52.1012)], 60, 60),
        "capacity": 6000,
        "tags": ["haven"],
        "description": "The quays along the first harbour from the Dr. Lelykade to the harbour mouth.",
    },
    {
        "slug": "commandopost-kurhaus",
        "name": "Command post perimeter Gevers Deynootweg",
        "geometry": box(4.2822, 52.1086, 50, 90, heading=35),
        "capacity": 200,
        "tags": ["commandopost"],
        "description": "Cordoned-off area around the mobile command post (CoPI) behind the Kurhaus.",
    },
]


def _upsert_area(tenant, spec: dict, **extra) -> Area:
    spec = dict(spec)
    share = spec.pop("usable_share", None)
    parent_slug = spec.pop("parent", None)
    measured = measure(spec.pop("geometry"))
    data = {"geometry": measured, **spec, **extra}
    if parent_slug:
        data["parent"] = Area.objects.get(tenant=tenant, slug=parent_slug)
    if share:
        data["usable_surface_m2"] = round(measured.surface_m2 * share)
    existing = Area.objects.filter(tenant=tenant, slug=spec["slug"]).first()
    if existing:
        return area_update(area=existing, actor=None, data=data)
    return area_create(tenant=tenant, actor=None, data=data)


def _replay_path() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "replay" / REPLAY_FILE


REPLAY_FILE = "scheveningen.csv"
RECENT = timedelta(hours=1)
CONTINUE_FOR = timedelta(hours=12)  # a demo seeded again within this continues its scenario


def scheveningen_scenario(now: datetime) -> Scenario:
    """The scenario the demo's replay file was written for; a new one starting ``now`` if there is none."""
    try:
        return Scenario.load(scenario_path(_replay_path()))
    except ValueError:
        return Scenario.starting(now)


def _saved_scenario(now: datetime) -> tuple[Scenario | None, str]:
    """The saved scenario if the demo may continue it, else (None, why not)."""
    try:
        scenario = Scenario.load(scenario_path(_replay_path()))
    except ValueError as exc:
        return None, str(exc)
    if scenario.now > now + timedelta(minutes=5):
        return None, f"the saved demo scenario starts in the future ({scenario.now:%Y-%m-%d %H:%M} UTC)"
    if scenario.now < now - CONTINUE_FOR:
        return None, f"the saved demo scenario is from {scenario.now:%Y-%m-%d %H:%M} UTC"
    return scenario, ""


def _recent_observations(source, now: datetime) -> int:
    from sources.models import Observation

    return Observation.objects.filter(series__source=source, time__gt=now - RECENT, time__lte=now).count()


def _forget_scenario(source) -> None:
    """Drop an earlier scenario's synthetic counts (the cameras' and the stairs') and the model trained on
    them, so the new scenario's history, forecasts and measured outcomes are one story (the action log keeps
    its entries)."""
    from sources.models import Observation, Series, Source

    stairs = Source.objects.filter(tenant=source.tenant, slug=STAIRS_SOURCE).first()
    for replay in [source, *([stairs] if stairs else [])]:  # the caller's own object: it fetches next
        Observation.objects.filter(series__source=replay).delete()
        Series.objects.filter(source=replay).update(latest_time=None, latest_value=None)
        replay.state = {}  # play the new scenario's history from its start
        replay.save(update_fields=["state"])
    ForecastModel.objects.filter(tenant=source.tenant).delete()


def seed_scheveningen_counts(tenant, stdout) -> None:
    """A replay source of simulated counting-camera data: four weeks of history, then live every minute.

    A first run starts a new scenario whose "now" is now. A run within ``CONTINUE_FOR`` of that start, on
    the same database, continues the saved scenario, so the stored history stays one story; later (or
    when the saved scenario is unreadable, lies in the future, or its replay has no data for the last
    hour) the demo starts a new synthetic scenario and says so, so every start shows the busy afternoon.
    """
    from django.utils import timezone

    from sources.models import Source
    from sources.services import source_create, source_fetch

    now = timezone.now()
    path = _replay_path()
    source = Source.objects.filter(tenant=tenant, slug="telcameras-scheveningen").first()
    scenario = None
    if source is not None:
        scenario, why_not = _saved_scenario(now)
        if scenario is None:
            stdout.write(f"  {tenant.slug}: {why_not}; starting a new synthetic scenario")
            _forget_scenario(source)
    scenario = scenario or Scenario.starting(now)
    rows = write_replay_csv(path, scenario)
    if source is None:
        source = source_create(
            tenant=tenant,
            actor=None,
            data={
                "slug": "telcameras-scheveningen",
                "name": "Counting cameras Scheveningen (demo replay)",
                "kind": "replay",
                "config": {"file": REPLAY_FILE, "backfill_hours": 24 * 27},
                "poll_interval": 60,
                "owner": "Gemeente Den Haag (demo)",
                "purpose": "Crowd levels on the boulevard, beach and pier (simulated for the demo).",
                "areas": list(Area.objects.filter(tenant=tenant, slug__in=[s["slug"] for s in SCHEVENINGEN])),
            },
        )
    outcome = source_fetch(source=source)
    if not _recent_observations(source, now):
        # Nothing for the last hour (the replay file was edited by hand, or the source was reconfigured):
        # build the picture again from a new synthetic scenario starting now.
        stdout.write(
            f"  {tenant.slug}: the replay has no data for the last hour; starting a new synthetic scenario"
        )
        scenario = Scenario.starting(now)
        rows = write_replay_csv(path, scenario)
        _forget_scenario(source)
        outcome = source_fetch(source=source)
    stdout.write(
        f"  {tenant.slug}: replay of {rows} simulated counts, {outcome.stored} stored now "
        f"(synthetic scenario: its sunny Sunday, 16:30, began {scenario.now:%Y-%m-%d %H:%M} UTC)"
    )
    stairs = _seed_stairs_counts(tenant, scenario)
    stdout.write(
        f"  {tenant.slug}: beach stairs counting line (CMSA format), {stairs.stored} counts stored now"
    )
    calibrate_panels(tenant=tenant)
    refresh_forecasts(tenant=tenant)  # at once, with the fallback methods until the model is trained
    if not ForecastModel.objects.filter(tenant=tenant).exists():
        from django.db import transaction

        from .tasks import train_tenant_forecast_model

        # Training takes some seconds: the demo's worker does it right after start (then nightly).
        transaction.on_commit(lambda: train_tenant_forecast_model.delay(tenant.pk))


def _seed_stairs_counts(tenant, scenario: Scenario):
    """The beach stairs' passer-by counts: a replay of a CMSA wide file written for ``scenario`` (the same
    weeks as the cameras' file, so both play the same afternoon), as a second source on the stairs alone."""
    from sources.models import Source
    from sources.services import source_create, source_fetch

    write_stairs_csv(_replay_path().with_name(STAIRS_FILE), scenario)
    source = Source.objects.filter(tenant=tenant, slug=STAIRS_SOURCE).first()
    if source is None:
        lon, lat = STAIRS_TOP
        source = source_create(
            tenant=tenant,
            actor=None,
            data={
                "slug": STAIRS_SOURCE,
                "name": "Counting camera beach stairs Kurhaus (demo replay, CMSA format)",
                "kind": "replay",
                "config": {
                    "file": STAIRS_FILE,
                    "backfill_hours": 24 * 27,
                    "interval_minutes": 5,
                    "sensors": {
                        STAIRS_SENSOR: {
                            "name": "Beach stairs Kurhaus",
                            "width_m": STAIRS_WIDTH_M,
                            "lat": round(lat, 6),
                            "lon": round(lon, 6),
                        }
                    },
                },
                "poll_interval": 60,
                "owner": "Gemeente Den Haag (demo)",
                "purpose": "People passing the beach stairs at the Kurhaus, both ways (simulated).",
                "areas": [Area.objects.get(tenant=tenant, slug=STAIRS)],
            },
        )
    return source_fetch(source=source)


@register_demo_seeder(20, "areas")
def seed_areas(*, tenant, users, stdout) -> None:
    """Scheveningen for den-haag; a King's Day event with zones for rotterdam and koningsdag-events; the
    harbour and a command post perimeter for politie-den-haag."""
    if tenant.slug == "den-haag":
        if not tenant.public_page_enabled:  # the demo shows the visitor page and register too
            tenant.public_page_enabled = True
            tenant.save(update_fields=["public_page_enabled"])
        for spec in [*SCHEVENINGEN, STAIRS_AREA]:
            _upsert_area(tenant, spec, kind=AreaKind.PERMANENT)
        stdout.write(
            f"  {tenant.slug}: {len(SCHEVENINGEN) + 1} Scheveningen areas (one a passer-by counting line)"
        )
        read = read_buildings(building_footprints())
        building_layer_replace(
            tenant=tenant, actor=None, read=read
        )  # replaced whole: seeding again is a no-op
        stdout.write(f"  {tenant.slug}: {len(read.features)} buildings around the Kurhaus")
        seed_scheveningen_counts(tenant, stdout)
    elif tenant.slug in ("rotterdam", "koningsdag-events"):
        from django.utils import timezone

        spec = kings_day(timezone.now())
        event = Event.objects.filter(tenant=tenant, name__startswith="Koningsdag").order_by("-start").first()
        if event is None or event.end <= timezone.now():  # the demo's King's Day is always ahead
            event = Event.objects.filter(tenant=tenant, slug=spec["slug"]).first() or event_create(
                tenant=tenant, actor=None, data=spec
            )
        for spec in KINGS_DAY_ZONES:
            _upsert_area(tenant, spec, kind=AreaKind.TEMPORARY, event=event)
        event_set_organisers(event=event, actor=None, usernames=[users[Role.ORGANISER].username])
        stdout.write(f"  {tenant.slug}: event {event.name} with {len(KINGS_DAY_ZONES)} zones")
    elif tenant.slug == "politie-den-haag":
        for spec in POLICE_AREAS:
            _upsert_area(tenant, spec, kind=AreaKind.PERMANENT)
        stdout.write(f"  {tenant.slug}: {len(POLICE_AREAS)} areas (Scheveningen harbour, command post)")
