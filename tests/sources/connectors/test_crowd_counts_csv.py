"""crowd_counts_csv: Amsterdam CMSA passer-by counts (wide CSV) and their sensor table, parsed from a
recorded export and fetched end to end from a local server; the long layout; bad input; time zones and the
October clock change; and the replay connector playing the same CMSA file."""

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from sources.connectors import get_connector
from sources.connectors.base import ConnectorContext, ParseError, Payload, Reading
from sources.connectors.crowd_counts_csv import CrowdCountsCsvConnector, read_sensor_table
from sources.connectors.replay import ReplayConnector
from sources.models import Observation, Series, Source
from sources.services import source_fetch
from tenants.scoping import tenant_scope
from tests.factories import make_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "crowd_counts_csv"
COUNTS = (FIXTURES / "cmsa_counts_3min_2025-08-20_1600-1857.csv").read_bytes()
TABLE = (FIXTURES / "cmsa_sensor_locations_sail2025.csv").read_bytes()
COUNTS_URL = "https://data.example.amsterdam.nl/cmsa/passanten_3min.csv"
TABLE_URL = "https://data.example.amsterdam.nl/cmsa/sensoren.csv"
SUMMER = timezone(timedelta(hours=2))
WINTER = timezone(timedelta(hours=1))
AT_1600 = datetime(2025, 8, 20, 16, 0, tzinfo=SUMMER)
AT_1857 = datetime(2025, 8, 20, 18, 57, tzinfo=SUMMER)
AFTER = datetime(2025, 8, 20, 19, 0, tzinfo=SUMMER)  # "now" of the fetches: just after the newest row
ROWS, COLUMNS = 60, 10  # the fixture: 16:00 to 18:57 every 3 minutes, 5 sensors x 2 directions
NOT_IN_TABLE = (
    "Sensor GASA-06-B is not in the sensor table or 'sensors': its series get no place name, position or "
    "line width; add it to 'sensors'."
)

# The sensor table as read: "lat, lon" in one field, widths with a decimal comma, the effective width used.
KALVERSTRAAT = {"name": "Kalverstraat t.h.v. 1", "lat": 52.372634, "lon": 4.892071, "width_m": 6.7}
KORTE_NIEZEL = {"name": "Korte Niezel", "lat": 52.374616, "lon": 4.89983, "width_m": 3.4}
BUIKSLOTERWEG = {"name": "CS - ri. Buiksloterweg (West)", "lat": 52.380566, "lon": 4.89936, "width_m": 3.1}
AZARTPLEIN = {"name": "Azartplein B", "lat": 52.37802, "lon": 4.93715, "width_m": 3.1}  # Breedte empty


def passing(key, time, count, sensor=None, info=None, direction=None) -> Reading:
    """The expected reading of one cell: the count of 3 minutes as persons per minute."""
    sensor, direction = sensor or key.rsplit("_", 1)[0], direction or key.rsplit("_", 1)[1]
    info = info or {}
    return Reading(
        key=key,
        metric="people_passing",
        time=time,
        value=count / 3,
        unit="persons/min",
        name=f"{info.get('name') or sensor} (direction {direction}°)",
        facility=sensor,
        location=(info["lon"], info["lat"]) if info else None,
        line_width_m=info.get("width_m"),
    )


# Line 2 of the fixture, copied from the recorded export:
# 2025-08-20 16:00:00+02:00,129,139,61,36,0,0,0,0,0,0,16,0,20,8,2,0
FIRST_ROW = [
    passing("CMSA-GAKH-01_0", AT_1600, 129, info=KALVERSTRAAT),
    passing("CMSA-GAKH-01_180", AT_1600, 139, info=KALVERSTRAAT),
    passing("CMSA-GAWW-11_120", AT_1600, 61, info=KORTE_NIEZEL),
    passing("CMSA-GAWW-11_300", AT_1600, 36, info=KORTE_NIEZEL),
    passing("GASA-06_95", AT_1600, 0, info=AZARTPLEIN),
    passing("GASA-06_275", AT_1600, 0, info=AZARTPLEIN),
    passing("GASA-06-B_95", AT_1600, 0),
    passing("GASA-06-B_275", AT_1600, 0),
    passing("GVCV-03_42", AT_1600, 0, info=BUIKSLOTERWEG),
    passing("GVCV-03_222", AT_1600, 0, info=BUIKSLOTERWEG),
]
# The last line: 2025-08-20 18:57:00+02:00,107,70,62,73,0,0,61,0,1,3,18,57,20,8,2,0
LAST_ROW = [
    passing("CMSA-GAKH-01_0", AT_1857, 107, info=KALVERSTRAAT),
    passing("CMSA-GAKH-01_180", AT_1857, 70, info=KALVERSTRAAT),
    passing("CMSA-GAWW-11_120", AT_1857, 62, info=KORTE_NIEZEL),
    passing("CMSA-GAWW-11_300", AT_1857, 73, info=KORTE_NIEZEL),
    passing("GASA-06_95", AT_1857, 0, info=AZARTPLEIN),
    passing("GASA-06_275", AT_1857, 0, info=AZARTPLEIN),
    passing("GASA-06-B_95", AT_1857, 61),
    passing("GASA-06-B_275", AT_1857, 0),
    passing("GVCV-03_42", AT_1857, 1, info=BUIKSLOTERWEG),
    passing("GVCV-03_222", AT_1857, 3, info=BUIKSLOTERWEG),
]


def make_connector(config=None, state=None, time_zone="Europe/Amsterdam", now=AFTER):
    context = ConnectorContext(tenant_slug="tenant-a", time_zone=time_zone)
    return CrowdCountsCsvConnector(
        config=config if config is not None else {"url": COUNTS_URL, "sensors_url": TABLE_URL},
        context=context,
        state=state,
        now=now,
    )


def table_state() -> dict:
    """The state after the sensor table was read, as a fetch leaves it."""
    payload = Payload(body=TABLE, url=TABLE_URL, meta={"role": "sensors", "read_at": AFTER.isoformat()})
    result = make_connector().parse(payload)
    assert result.warnings == []
    return result.state


def counts(body: bytes = COUNTS, url: str = COUNTS_URL) -> Payload:
    return Payload(body=body, url=url, content_type="text/csv")


def edited(changes: dict[tuple[int, str], str]) -> bytes:
    """The fixture with cells changed: {(line, column): new text}."""
    rows = list(csv.reader(io.StringIO(COUNTS.decode())))
    for (line, column), text in changes.items():
        rows[line - 1][rows[0].index(column)] = text
    return "".join(",".join(row) + "\n" for row in rows).encode()


def where(url: str = COUNTS_URL) -> str:
    return f"The counts file at {url}"


# --- parse: the recorded CMSA export ------------------------------------------------------------------


def test_parse_cmsa_wide_file_gives_a_rate_per_sensor_and_direction():
    result = make_connector(state=table_state()).parse(counts())

    assert len(result.readings) == ROWS * COLUMNS
    assert result.readings[:COLUMNS] == FIRST_ROW
    assert result.readings[-COLUMNS:] == LAST_ROW
    # line 3: 2025-08-20 16:03:00+02:00,127,121,25,27,0,0,3,1,0,0,...: 3 people in 3 minutes is 1 a minute
    at_1603 = {r.key: r.value for r in result.readings if r.time == AT_1600 + timedelta(minutes=3)}
    assert (at_1603["CMSA-GAKH-01_0"], at_1603["GASA-06-B_95"], at_1603["GASA-06-B_275"]) == (
        127 / 3,
        1.0,
        1 / 3,
    )
    # the calendar helper columns (hour, minute, day, month, weekday, is_weekend) are no sensors
    assert result.warnings == [NOT_IN_TABLE]
    assert result.state == {"interval_minutes": 3.0, "cursor": "2025-08-20T18:57:00+02:00"}
    assert all(r.time.utcoffset() == timedelta(hours=2) for r in result.readings)


def test_both_directions_of_a_line_share_the_sensor_as_facility():
    result = make_connector(state=table_state()).parse(counts())

    facilities = {}
    for reading in result.readings:
        facilities.setdefault(reading.facility, set()).add(reading.key)
    assert facilities == {
        "CMSA-GAKH-01": {"CMSA-GAKH-01_0", "CMSA-GAKH-01_180"},
        "CMSA-GAWW-11": {"CMSA-GAWW-11_120", "CMSA-GAWW-11_300"},
        "GASA-06": {"GASA-06_95", "GASA-06_275"},
        "GASA-06-B": {"GASA-06-B_95", "GASA-06-B_275"},
        "GVCV-03": {"GVCV-03_42", "GVCV-03_222"},
    }


def test_sensor_table_is_read_with_decimal_commas_and_the_effective_width():
    table, warnings = read_sensor_table(TABLE, where="The sensor table")

    assert warnings == []
    assert table == {
        "CMSA-GAKH-01": {**KALVERSTRAAT, "problems": {}},  # Breedte 8, Effectieve breedte "6,7"
        "CMSA-GAWW-11": {**KORTE_NIEZEL, "problems": {}},  # "3,8" and "3,4"
        "GVCV-03": {**BUIKSLOTERWEG, "problems": {}},  # "52.380566,4.899360": no space after the comma
        "GASA-06": {**AZARTPLEIN, "problems": {}},  # Breedte empty, Effectieve breedte "3,1"
    }


def test_sensor_table_width_problems_give_one_warning_per_sensor():
    broken = (
        TABLE.replace(b'8,"6,7"', b"0,0")  # Kalverstraat: both zero
        .replace(b'"3,8","3,4"', b'"3,8",breed')  # Korte Niezel: effective garbled, the full width is used
        .replace(b',,"3,1"', b",,")  # Azartplein: both empty
        .replace(b'"52.380566,4.899360"', b"Buiksloterweg")  # a place name where the position belongs
    )
    state = {"sensor_table": read_sensor_table(broken, where="t")[0], "sensor_table_url": TABLE_URL}

    result = make_connector(state=state).parse(counts())

    first = {r.key: r for r in result.readings[:COLUMNS]}
    assert first["CMSA-GAKH-01_0"].line_width_m is None
    assert first["CMSA-GAWW-11_120"].line_width_m == 3.8
    assert first["GASA-06_95"].line_width_m is None and first["GASA-06_95"].location == (4.93715, 52.37802)
    assert first["GVCV-03_42"].location is None and first["GVCV-03_42"].line_width_m == 3.1
    assert result.warnings == [
        "Sensor CMSA-GAKH-01 (Kalverstraat t.h.v. 1): no usable line width (Effectieve breedte '0', Breedte "
        "'0'), so its series get no width; set it in 'sensors'.",
        "Sensor CMSA-GAWW-11 (Korte Niezel): its Effectieve breedte 'breed' is not a width; Breedte 3,8 m is "
        "used.",
        "Sensor GASA-06 (Azartplein B): no usable line width (Effectieve breedte '', Breedte ''), so its series "
        "get no width; set it in 'sensors'.",
        NOT_IN_TABLE,
        "Sensor GVCV-03 (CS - ri. Buiksloterweg (West)): its position 'Buiksloterweg' is not 'lat, lon'.",
    ]


def test_a_cut_off_sensor_table_keeps_the_table_read_before():
    state = {**table_state(), "sensor_table_read_at": "2025-08-20T12:00:00+02:00"}
    payload = Payload(body=TABLE[:-12], url=TABLE_URL, meta={"role": "sensors", "read_at": AFTER.isoformat()})

    result = make_connector(state=state).parse(payload)

    assert result.state is None  # the table read at 12:00 stays, and the next fetch tries again
    assert result.warnings == [
        f"Sensor table: The sensor table at {TABLE_URL} stops in the middle of its last line (5: 3 of 5 "
        "fields): the download was cut off; the table read at 2025-08-20T12:00:00+02:00 is used (tried again "
        "next fetch)."
    ]


def test_configured_sensors_win_over_the_table_field_by_field():
    config = {
        "url": COUNTS_URL,
        "sensors_url": TABLE_URL,
        "sensors": {
            "CMSA-GAWW-11": {"width_m": 3.0},
            "GASA-06-B": {"name": "Azartplein B-zijde", "lat": 52.37795, "lon": 4.93702, "width_m": 3.1},
        },
    }

    result = make_connector(config, state=table_state()).parse(counts())

    first = {r.key: r for r in result.readings[:COLUMNS]}
    niezel = first["CMSA-GAWW-11_300"]
    assert (niezel.name, niezel.location, niezel.line_width_m) == (
        "Korte Niezel (direction 300°)",
        (4.89983, 52.374616),
        3.0,
    )
    b_side = first["GASA-06-B_95"]
    assert (b_side.name, b_side.location, b_side.line_width_m) == (
        "Azartplein B-zijde (direction 95°)",
        (4.93702, 52.37795),
        3.1,
    )
    assert result.warnings == []


def test_without_table_or_sensors_the_series_are_unplaced_with_one_warning():
    result = make_connector({"url": COUNTS_URL}).parse(counts())

    assert result.readings[:2] == [
        passing("CMSA-GAKH-01_0", AT_1600, 129),
        passing("CMSA-GAKH-01_180", AT_1600, 139),
    ]
    assert result.warnings == [
        "No sensor table ('sensors_url') and no 'sensors' are set: the series get no place names, positions "
        "or line widths, so no density per metre can be worked out."
    ]


# --- parse: the long layout and the format setting ----------------------------------------------------


LONG = (
    b"timestamp,sensor,direction,count\n"
    b"2025-08-20 16:00:00+02:00,CMSA-GAWW-11,120,61\n"
    b"2025-08-20 16:00:00+02:00,CMSA-GAWW-11,300,36\n"
    b"2025-08-20 16:03:00+02:00,CMSA-GAWW-11,120,25\n"
    b"2025-08-20 16:03:00+02:00,CMSA-GAWW-11,300,27\n"
)


def test_parse_long_layout_gives_the_same_readings_as_wide():
    result = make_connector(state=table_state()).parse(counts(LONG))

    at_1603 = AT_1600 + timedelta(minutes=3)
    assert result.readings == [
        passing("CMSA-GAWW-11_120", AT_1600, 61, info=KORTE_NIEZEL),
        passing("CMSA-GAWW-11_300", AT_1600, 36, info=KORTE_NIEZEL),
        passing("CMSA-GAWW-11_120", at_1603, 25, info=KORTE_NIEZEL),
        passing("CMSA-GAWW-11_300", at_1603, 27, info=KORTE_NIEZEL),
    ]
    assert result.warnings == []


def test_parse_long_layout_without_direction_keys_by_sensor():
    body = b"timestamp,sensor,count\n2025-08-20T16:00:00Z,CMSA-GAKH-01,268\n2025-08-20T16:03:00Z,CMSA-GAKH-01,248\n"

    result = make_connector(state=table_state()).parse(counts(body))

    assert [(r.key, r.name, r.value, r.time) for r in result.readings] == [
        ("CMSA-GAKH-01", "Kalverstraat t.h.v. 1", 268 / 3, datetime(2025, 8, 20, 16, tzinfo=UTC)),
        ("CMSA-GAKH-01", "Kalverstraat t.h.v. 1", 248 / 3, datetime(2025, 8, 20, 16, 3, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    ("fmt", "body", "message"),
    [
        ("long", COUNTS,
         "lacks the column(s) sensor, count of the long layout (timestamp,sensor,count[,direction]); its "
         "header reads 'timestamp,CMSA-GAKH-01_0,CMSA-GAKH-01_180,CMSA-GAWW-11_120,CMSA-GAWW-11_300,GASA-06_95,"
         "GASA-06_27...'."),
        ("wide", LONG,
         "has no counting columns: the wide layout has one column per sensor and walking direction named "
         "'<sensor>_<direction in degrees>' (such as 'CMSA-GAWW-11_120'), the long layout the columns "
         "timestamp,sensor,count; its header reads 'timestamp,sensor,direction,count'."),
    ],
    ids=["long-on-wide", "wide-on-long"],
)  # fmt: skip
def test_format_setting_overrides_the_header(fmt, body, message):
    with pytest.raises(ParseError) as caught:
        make_connector({"url": COUNTS_URL, "format": fmt}).parse(counts(body))

    assert caught.value.message == f"{where()} {message}"


# --- parse: cells, lines and headers that are wrong ---------------------------------------------------


def test_empty_cells_are_no_value_and_broken_cells_are_counted_per_column():
    body = edited(
        {
            (2, "CMSA-GAWW-11_120"): "",
            (3, "CMSA-GAWW-11_120"): "veel",
            (4, "CMSA-GAWW-11_120"): "12a",
            (5, "CMSA-GAWW-11_120"): "-5",
            (6, "CMSA-GAKH-01_0"): "nan",  # what pandas writes for a missing value
            (7, "GVCV-03_42"): "1e3",
        }
    )

    result = make_connector(state=table_state()).parse(counts(body))

    assert len(result.readings) == ROWS * COLUMNS - 6
    niezel = [r.time for r in result.readings if r.key == "CMSA-GAWW-11_120"]
    assert niezel[0] == AT_1600 + timedelta(minutes=12)  # lines 2 to 5 (16:00 to 16:09) gave no reading
    assert 0.0 not in {r.value for r in result.readings if r.key == "CMSA-GAWW-11_120"}
    assert result.warnings == [
        "Column 'CMSA-GAWW-11_120': 2 cell(s) are not a count (first on line 3: 'veel'); skipped.",
        "Column 'CMSA-GAWW-11_120': 1 negative count(s) (first on line 5: -5); rejected.",
        "Column 'GVCV-03_42': 1 cell(s) are not a count (first on line 7: '1e3'); skipped.",
        NOT_IN_TABLE,
    ]


def test_a_download_cut_off_in_the_last_line_skips_that_line_with_a_warning():
    cut = COUNTS[: COUNTS.rindex(b"\n", 0, len(COUNTS) - 1) + 30]  # 29 characters into the last line
    assert cut.endswith(b"2025-08-20 18:57:00+02:00,107")

    result = make_connector(state=table_state()).parse(counts(cut))

    assert len(result.readings) == (ROWS - 1) * COLUMNS
    assert result.readings[-1].time == AT_1857 - timedelta(minutes=3)
    assert result.warnings == [
        f"{where()} stops in the middle of its last line (61: 2 of 17 fields): the download was cut off; that "
        "line is skipped (a later fetch reads it whole).",
        NOT_IN_TABLE,
    ]
    assert result.state["cursor"] == "2025-08-20T18:54:00+02:00"

    again = make_connector(state={**table_state(), **result.state}).parse(counts())

    assert again.readings == LAST_ROW  # the whole file brings the line that was cut off, and only that


def test_a_short_line_in_the_middle_is_skipped_with_a_warning():
    lines = COUNTS.split(b"\n")
    lines[4] = lines[4][:40]
    lines[9] = b"gisteren," + lines[9].split(b",", 1)[1]

    result = make_connector(state=table_state()).parse(counts(b"\n".join(lines)))

    assert len(result.readings) == (ROWS - 2) * COLUMNS
    assert result.warnings == [
        f"{where()}: line 5 has 6 fields where the header has 17; skipped.",
        f"{where()}: line 10: 'gisteren' is not an ISO 8601 time; skipped.",
        NOT_IN_TABLE,
    ]


def test_a_repeated_row_keeps_the_first():
    lines = COUNTS.split(b"\n")
    body = b"\n".join([*lines[:3], lines[2].replace(b",127,", b",999,"), *lines[3:]])

    result = make_connector(state=table_state()).parse(counts(body))

    assert len(result.readings) == ROWS * COLUMNS
    assert {r.value for r in result.readings if r.key == "CMSA-GAKH-01_0"} >= {127 / 3}
    assert 999 / 3 not in {r.value for r in result.readings}
    assert result.warnings[0] == (
        "10 count(s) repeat a sensor, direction and time given before (first on line 4); the first is kept."
    )


def test_columns_that_are_no_counting_lines_are_ignored_with_one_warning():
    body = COUNTS.replace(b",hour,minute,", b",opmerking,minute,")

    result = make_connector(state=table_state()).parse(counts(body))

    assert len(result.readings) == ROWS * COLUMNS
    assert result.warnings == [
        f"{where()}: 1 column(s) are not '<sensor>_<direction>' columns and are ignored: 'opmerking'.",
        NOT_IN_TABLE,
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body>Storing</body></html>",
         "is HTML or XML, not CSV (content type 'text/csv', starting '<!DOCTYPE html><html><body>Storing"
         "</body></html>'); check the address."),
        (b'{"error": "not found"}',
         "is JSON, not CSV (content type 'text/csv', starting '{\"error\": \"not found\"}'); check the address."),
        (COUNTS.replace(b"timestamp,", b"tijdstip,", 1),
         "has no 'timestamp' column; its header reads 'tijdstip,CMSA-GAKH-01_0,CMSA-GAKH-01_180,CMSA-GAWW-11_120,"
         "CMSA-GAWW-11_300,GASA-06_95,GASA-06_275...'. A counts file needs the time of each interval in a "
         "'timestamp' column (or set 'timestamp_column' to the column that holds it)."),
        (b"timestamp,hour,minute\n2025-08-20 16:00:00+02:00,16,0\n",
         "has no counting columns: the wide layout has one column per sensor and walking direction named "
         "'<sensor>_<direction in degrees>' (such as 'CMSA-GAWW-11_120'), the long layout the columns "
         "timestamp,sensor,count; its header reads 'timestamp,hour,minute'."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is binary, not CSV text (content type 'text/csv', starting "
         "'\ufffdPNG \x1a \x00\x00\x00 IHDR')."),
    ],
    ids=["html", "json", "no-timestamp", "no-counting-columns", "binary"],
)  # fmt: skip
def test_unreadable_files_raise_a_precise_parse_error(body, message):
    with pytest.raises(ParseError) as caught:
        make_connector().parse(counts(body))

    assert caught.value.message == f"{where()} {message}"
    assert not caught.value.retryable


def test_timestamp_column_setting_names_another_column():
    body = COUNTS.replace(b"timestamp,", b"tijdstip,", 1)

    result = make_connector({"url": COUNTS_URL, "timestamp_column": "Tijdstip"}).parse(counts(body))

    assert len(result.readings) == ROWS * COLUMNS


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (b"", "The counts file at {url} is empty."),
        (COUNTS.split(b"\n")[0] + b"\n", "The counts file at {url} has no data rows; nothing stored (no rows is not zero people)."),
    ],
    ids=["empty-body", "header-only"],
)  # fmt: skip
def test_an_empty_file_gives_no_readings_and_a_warning(body, warning):
    result = make_connector().parse(counts(body))

    assert result.readings == []
    assert warning.format(url=COUNTS_URL) in result.warnings
    assert result.state is None  # the cursor stays where it was


# --- parse: intervals, time zones and the clock change ------------------------------------------------


def test_times_without_zone_are_read_in_the_tenant_zone_with_one_warning():
    body = COUNTS.replace(b"+02:00", b"")

    result = make_connector(state=table_state()).parse(counts(body))

    assert result.readings[:COLUMNS] == FIRST_ROW and result.readings[-COLUMNS:] == LAST_ROW
    assert result.warnings == [
        f"{where()} gives times without a time zone (such as '2025-08-20 16:00:00'); they are read as "
        "Europe/Amsterdam time. A time with an offset (+02:00) leaves no doubt.",
        NOT_IN_TABLE,
    ]


def october_night(with_offsets: bool) -> tuple[bytes, list[datetime]]:
    """A wide file over the change to winter time (2025-10-26 03:00 CEST -> 02:00 CET), every 3 minutes
    from 01:48 to 03:09 local: the wall clock shows 02:00 to 02:57 twice."""
    start = datetime(2025, 10, 25, 23, 48, tzinfo=UTC)
    instants = [start + timedelta(minutes=3 * i) for i in range(48)]
    zone = ZoneInfo("Europe/Amsterdam")
    lines = ["timestamp,CMSA-GAWW-11_120,CMSA-GAWW-11_300"]
    for i, moment in enumerate(instants):
        local = moment.astimezone(zone)
        stamp = local.isoformat(sep=" ") if with_offsets else local.replace(tzinfo=None).isoformat(sep=" ")
        lines.append(f"{stamp},{i},{2 * i}")
    return ("\n".join(lines) + "\n").encode(), instants


@pytest.mark.parametrize("with_offsets", [True, False], ids=["offsets", "wall-clock"])
def test_the_three_minute_grid_runs_on_across_the_october_clock_change(with_offsets):
    body, instants = october_night(with_offsets)
    assert body.count(b"2025-10-26 02:00:00") == 2

    result = make_connector({"url": COUNTS_URL, "sensors": {"CMSA-GAWW-11": {"width_m": 3.4}}}).parse(
        counts(body)
    )

    times = [r.time for r in result.readings if r.key == "CMSA-GAWW-11_120"]
    assert times == instants  # 48 distinct instants, 3 minutes apart: no two intervals on one time
    assert [r.value for r in result.readings if r.key == "CMSA-GAWW-11_300"] == [2 * i / 3 for i in range(48)]
    assert result.state["interval_minutes"] == 3.0
    expected = [] if with_offsets else [
        f"{where()} gives times without a time zone (such as '2025-10-26 01:48:00'); they are read as "
        "Europe/Amsterdam time. A time with an offset (+02:00) leaves no doubt."
    ]  # fmt: skip
    assert result.warnings == expected
    offsets = {r.time.utcoffset() for r in result.readings}
    assert offsets == {timedelta(hours=2), timedelta(hours=1)}


def test_a_wall_clock_time_that_does_not_exist_is_skipped():
    body = (
        b"timestamp,CMSA-GAWW-11_120\n2026-03-29 01:57:00,3\n2026-03-29 02:30:00,6\n2026-03-29 03:00:00,9\n"
    )

    result = make_connector({"url": COUNTS_URL, "interval_minutes": 3, "sensors": {"x": {}}}).parse(
        counts(body)
    )

    assert [r.time for r in result.readings] == [
        datetime(2026, 3, 29, 0, 57, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    ]
    assert (
        f"{where()}: line 3: 2026-03-29 02:30:00 does not exist in Europe/Amsterdam (the clock skips it); skipped."
        in (result.warnings)
    )


def test_irregular_spacing_uses_the_median_with_a_warning():
    lines = COUNTS.split(b"\n")
    lines[3] = lines[3].replace(b"16:06:00", b"16:04:00")  # 16:00, 16:03, 16:04, 16:09...

    result = make_connector(state=table_state()).parse(counts(b"\n".join(lines)))

    assert result.state["interval_minutes"] == 3.0
    assert result.readings[0].value == 129 / 3
    assert result.warnings[0] == (
        f"{where()}: its rows are not evenly spaced (gaps of 1, 5 minutes besides the usual 3); each count is "
        "taken as 3 minutes, the median gap. Set 'interval_minutes' if that is wrong."
    )


def test_a_configured_interval_wins_and_a_mismatch_is_reported():
    config = {"url": COUNTS_URL, "sensors_url": TABLE_URL, "interval_minutes": 5}

    result = make_connector(config, state=table_state()).parse(counts())

    assert result.readings[0].value == 129 / 5
    assert result.warnings[0] == (
        f"{where()}: its rows are 3 minutes apart, but 'interval_minutes' is 5; the rates use 5."
    )


def test_a_single_row_needs_an_interval():
    body = b"\n".join(COUNTS.split(b"\n")[:2]) + b"\n"

    alone = make_connector().parse(counts(body))
    known = make_connector(state={**table_state(), "interval_minutes": 3.0}).parse(counts(body))

    assert alone.readings == []
    assert alone.warnings == [
        f"{where()} has only one time (2025-08-20T16:00:00+02:00), so the interval of its counts cannot be "
        "told; set 'interval_minutes'. Nothing stored."
    ]
    assert known.readings == FIRST_ROW


# --- parse: the cursor ----------------------------------------------------------------------------------


def test_first_fetch_backfills_and_later_ones_emit_only_newer_rows():
    config = {"url": COUNTS_URL, "sensors_url": TABLE_URL, "backfill_hours": 1}
    first = make_connector(config, state=table_state()).parse(counts())

    assert {r.time for r in first.readings} == {
        AT_1857 - timedelta(minutes=3 * i) for i in range(21)
    }  # 17:57 on
    state = {**table_state(), **first.state}

    second = make_connector(config, state=state).parse(counts())

    assert second.readings == []
    assert second.warnings == [
        f"{where()} has no rows after 2025-08-20T18:57:00+02:00, the newest already read (its newest row is "
        "2025-08-20T18:57:00+02:00): the export has not moved on."
    ]
    assert second.state is None

    later = COUNTS + b"2025-08-20 19:00:00+02:00,99,,,,,,,,,,19,0,20,8,2,0\n"
    third = make_connector(config, state=state).parse(counts(later))

    at_1900 = AT_1857 + timedelta(minutes=3)
    assert third.readings == [passing("CMSA-GAKH-01_0", at_1900, 99, info=KALVERSTRAAT)]
    assert third.state["cursor"] == at_1900.isoformat()


def test_a_newest_row_without_counts_does_not_move_the_cursor():
    later = COUNTS + b"2025-08-20 19:00:00+02:00,,,,,,,,,,,19,0,20,8,2,0\n"
    state = {**table_state(), "cursor": AT_1857.isoformat(), "interval_minutes": 3.0}

    result = make_connector(state=state).parse(counts(later))

    assert result.readings == []
    assert result.warnings == [
        f"{where()}: the rows from 2025-08-20T18:57:00+02:00 on hold no usable counts; nothing stored."
    ]
    assert result.state == {"interval_minutes": 3.0}  # no cursor: the row is read again when filled in


# --- configuration ------------------------------------------------------------------------------------


def test_registered_with_a_form_ready_schema():
    assert get_connector("crowd_counts_csv") is CrowdCountsCsvConnector
    assert all(
        field.get("description") for field in CrowdCountsCsvConnector.config_schema["properties"].values()
    )
    assert CrowdCountsCsvConnector.validate_config({"url": COUNTS_URL}) == []
    assert CrowdCountsCsvConnector.validate_config(
        {"url": COUNTS_URL, "sensors_url": TABLE_URL, "format": "wide", "interval_minutes": 3,
         "backfill_hours": 48, "timestamp_column": "timestamp",
         "sensors": {"CMSA-GAWW-11": {"name": "Korte Niezel", "width_m": 3.4, "lat": 52.37, "lon": 4.9}}}
    ) == []  # fmt: skip


@pytest.mark.parametrize(
    ("config", "messages"),
    [
        ({}, ["(root): 'url' is a required property"]),
        ({"url": "ftp://data.example.nl/x.csv"}, ["url: 'ftp://data.example.nl/x.csv' does not match '^https?://'"]),
        (
            {"url": COUNTS_URL, "format": "csv", "backfill_hours": 1000, "interval_minutes": 0, "city": "Amsterdam",
             "sensors": {"CMSA-GAWW-11": {"lat": 52.37, "width_m": 0, "colour": "red"}}},
            [
                "(root): Additional properties are not allowed ('city' was unexpected)",
                "backfill_hours: 1000 is greater than the maximum of 336",
                "format: 'csv' is not one of ['auto', 'wide', 'long']",
                "interval_minutes: 0 is less than the minimum of 1",
                "sensors/CMSA-GAWW-11: 'lon' is a dependency of 'lat'",
                "sensors/CMSA-GAWW-11: Additional properties are not allowed ('colour' was unexpected)",
                "sensors/CMSA-GAWW-11/width_m: 0 is less than the minimum of 0.1",
            ],
        ),
    ],
    ids=["missing-url", "not-http", "several"],
)  # fmt: skip
def test_validate_config_reports_every_problem(config, messages):
    assert CrowdCountsCsvConnector.validate_config(config) == messages


def test_source_with_bad_config_is_refused(tenant_a):
    with pytest.raises(ValidationError) as caught:
        make_source(tenant_a, kind="crowd_counts_csv", config={"url": COUNTS_URL, "format": "xlsx"})

    assert caught.value.message_dict["config"] == ["format: 'xlsx' is not one of ['auto', 'wide', 'long']"]


# --- end to end ---------------------------------------------------------------------------------------


def serve(httpserver, body: bytes = COUNTS, table: bytes | None = TABLE, status: int = 200) -> dict:
    httpserver.expect_request("/cmsa/passanten.csv").respond_with_data(
        body, status=status, content_type="text/csv"
    )
    config = {"url": httpserver.url_for("/cmsa/passanten.csv")}
    if table is not None:
        httpserver.expect_request("/cmsa/sensoren.csv").respond_with_data(table, content_type="text/csv")
        config["sensors_url"] = httpserver.url_for("/cmsa/sensoren.csv")
    return config


def reads(httpserver, path: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


def test_fetch_stores_the_counts_once_with_places_and_widths(tenant_a, httpserver):
    source = make_source(tenant_a, kind="crowd_counts_csv", config=serve(httpserver))

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=AFTER)

        assert outcome.ok, outcome.error
        assert (outcome.stored, outcome.duplicates, outcome.rejected) == (ROWS * COLUMNS, 0, 0)
        assert outcome.warnings == [NOT_IN_TABLE]
        series = {
            s.key: (s.metric, s.unit, s.name, s.facility, s.lon, s.lat, s.line_width_m)
            for s in Series.objects.filter(source=source)
        }
        assert series == {
            r.key: (r.metric, r.unit, r.name, r.facility, *(r.location or (None, None)), r.line_width_m)
            for r in FIRST_ROW
        }
        stored = {(o.series.key, o.time, o.value) for o in Observation.objects.select_related("series")}
        assert {(r.key, r.time, r.value) for r in FIRST_ROW + LAST_ROW} <= stored
        assert len(stored) == ROWS * COLUMNS
        assert Source.objects.get(pk=source.pk).state["cursor"] == AT_1857.isoformat()

        again = source_fetch(source=source, now=AFTER + timedelta(minutes=3))

        assert again.ok
        assert (again.stored, again.duplicates) == (0, 0)
        assert Observation.objects.count() == ROWS * COLUMNS
        assert reads(httpserver, "/cmsa/sensoren.csv") == 1  # the table came from the state

        source_fetch(source=source, now=AFTER + timedelta(hours=6))

        assert reads(httpserver, "/cmsa/sensoren.csv") == 2  # six hours on, the table is read again


def test_fetch_without_a_readable_sensor_table_still_stores_the_counts(tenant_a, httpserver):
    httpserver.expect_request("/cmsa/sensoren.csv").respond_with_data("Internal Server Error", status=500)
    config = serve(httpserver, table=None)
    config["sensors_url"] = httpserver.url_for("/cmsa/sensoren.csv")
    source = make_source(tenant_a, kind="crowd_counts_csv", config=config)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=AFTER)

        assert outcome.ok and outcome.stored == ROWS * COLUMNS
        assert outcome.warnings[0] == (
            f"Sensor table: {config['sensors_url']} answered HTTP 500 INTERNAL SERVER ERROR; the series get no "
            "names, locations or widths from it this time (tried again next fetch)."
        )
        assert set(Series.objects.values_list("line_width_m", flat=True)) == {None}


def test_fetch_of_a_cut_off_download_stores_the_whole_lines(tenant_a, httpserver):
    config = serve(httpserver, body=COUNTS[:-20])
    source = make_source(tenant_a, kind="crowd_counts_csv", config=config)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=AFTER)

        assert outcome.ok and outcome.stored == (ROWS - 1) * COLUMNS
        assert outcome.warnings[0] == (
            f"The counts file at {config['url']} stops in the middle of its last line (61: 9 of 17 fields): the "
            "download was cut off; that line is skipped (a later fetch reads it whole)."
        )


@pytest.mark.parametrize(
    ("body", "status", "message", "retryable"),
    [
        (b"<html><body>Onderhoud</body></html>", 200,
         "The counts file at {url} is HTML or XML, not CSV (content type 'text/csv', starting '<html><body>"
         "Onderhoud</body></html>'); check the address.", False),
        (b"Internal Server Error", 500, "{url} answered HTTP 500 INTERNAL SERVER ERROR.", True),
        (COUNTS.replace(b"timestamp", b"datum", 1), 200,
         "The counts file at {url} has no 'timestamp' column; its header reads 'datum,CMSA-GAKH-01_0,"
         "CMSA-GAKH-01_180,CMSA-GAWW-11_120,CMSA-GAWW-11_300,GASA-06_95,GASA-06_275,GA...'. A counts file "
         "needs the time of each interval in a 'timestamp' column (or set 'timestamp_column' to the column "
         "that holds it).", False),
    ],
    ids=["html", "http-500", "no-timestamp"],
)  # fmt: skip
def test_broken_counts_fail_the_fetch_and_store_nothing(
    tenant_a, httpserver, body, status, message, retryable
):
    config = serve(httpserver, body=body, status=status)
    source = make_source(tenant_a, kind="crowd_counts_csv", config=config)
    expected = message.format(url=config["url"])

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=AFTER)

        assert not outcome.ok
        assert (outcome.error, outcome.retryable) == (expected, retryable)
        assert (Series.objects.count(), Observation.objects.count()) == (0, 0)
        assert Source.objects.get(pk=source.pk).last_error == expected


# --- replay of a CMSA file ----------------------------------------------------------------------------


REPLAY_SENSORS = {
    "CMSA-GAKH-01": {"name": "Kalverstraat t.h.v. 1", "width_m": 6.7, "lat": 52.372634, "lon": 4.892071}
}
TEN_WEEKS = timedelta(weeks=10)


def test_replay_plays_a_cmsa_file_as_rates_with_configured_widths():
    now = AT_1600 + TEN_WEEKS + timedelta(hours=1)
    connector = ReplayConnector(
        config={"file": "cmsa.csv", "backfill_hours": 1, "sensors": REPLAY_SENSORS},
        context=ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam"),
        now=now,
    )

    result = connector.parse(Payload(body=COUNTS, url="cmsa.csv"))

    assert len(result.readings) == 20 * COLUMNS  # 16:03 to 17:00 of the recording, played ten weeks on
    first = {r.key: r for r in result.readings if r.time == AT_1600 + TEN_WEEKS + timedelta(minutes=3)}
    # line 3 of the recording: 2025-08-20 16:03:00+02:00,127,121,25,27,0,0,3,1,0,0,...
    assert first["CMSA-GAKH-01_0"] == Reading(
        key="CMSA-GAKH-01_0",
        metric="people_passing",
        time=AT_1600 + TEN_WEEKS + timedelta(minutes=3),
        value=127 / 3,
        unit="persons/min",
        name="Kalverstraat t.h.v. 1 (direction 0°)",
        facility="CMSA-GAKH-01",
        location=(4.892071, 52.372634),
        line_width_m=6.7,
    )
    assert (first["GASA-06-B_95"].value, first["GASA-06-B_95"].line_width_m) == (1.0, None)
    assert result.warnings == [
        "Sensor CMSA-GAWW-11 is not in 'sensors': its series get no place name, position or line width; add it "
        "to 'sensors'.",
        "Sensor GASA-06 is not in 'sensors': its series get no place name, position or line width; add it to "
        "'sensors'.",
        "Sensor GASA-06-B is not in 'sensors': its series get no place name, position or line width; add it "
        "to 'sensors'.",
        "Sensor GVCV-03 is not in 'sensors': its series get no place name, position or line width; add it to "
        "'sensors'.",
    ]


def test_replay_of_a_cmsa_file_stores_people_passing_series(tenant_a, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    (tmp_path / "replay").mkdir()
    (tmp_path / "replay" / "cmsa.csv").write_bytes(COUNTS)
    config = {"file": "cmsa.csv", "backfill_hours": 3, "sensors": REPLAY_SENSORS}
    source = make_source(tenant_a, kind="replay", config=config)

    with tenant_scope(tenant_a):
        outcome = source_fetch(source=source, now=AT_1857 + TEN_WEEKS)

        assert outcome.ok and outcome.stored == ROWS * COLUMNS  # 16:00 to 18:57, three hours back from now
        kalverstraat = Series.objects.get(source=source, key="CMSA-GAKH-01_180")
        assert (kalverstraat.metric, kalverstraat.unit, kalverstraat.facility, kalverstraat.line_width_m) == (
            "people_passing",
            "persons/min",
            "CMSA-GAKH-01",
            6.7,
        )
        assert (kalverstraat.lon, kalverstraat.lat) == (4.892071, 52.372634)
        newest = Observation.objects.filter(series=kalverstraat).order_by("-time").first()
        assert (newest.time, newest.value) == (AT_1857 + TEN_WEEKS, 70 / 3)


def test_replay_still_refuses_a_file_in_neither_layout():
    connector = ReplayConnector(
        config={"file": "x.csv"},
        context=ConnectorContext(tenant_slug="tenant-a", time_zone="Europe/Amsterdam"),
        now=AFTER,
    )

    with pytest.raises(ParseError) as caught:
        connector.parse(Payload(body=b"sensor,tijd,waarde\na,2025-08-20T16:00:00+02:00,3\n"))

    assert caught.value.message == (
        "The replay CSV lacks column(s) series, time, value. (A passer-by counts file has a 'timestamp' column "
        "and one '<sensor>_<direction>' column per counting line instead.)"
    )
