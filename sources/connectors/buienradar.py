"""Buienradar weather: one station's measurements and the national five-day forecast.

Reads the public JSON feed https://data.buienradar.nl/2.0/feed/json, which may be used freely on condition
that buienradar.nl is credited with a link to https://www.buienradar.nl.

The feed is parsed here rather than with the ``buienradar`` PyPI package: that package turns missing and
null values into 0 (a sea platform without a thermometer would read 0 °C), rounds precipitation to
0.1 mm/h, cannot pick a station by id and does its own HTTP with requests. The feed is plain JSON.

Forecast days are stored at the start of the day they are for (the feed's ``day``, local midnight); the
value covers that whole day. As for every series, the first stored value of a (series, time) wins, so a
forecast day keeps the value first published for it.
"""

import json
import math
from datetime import datetime
from zoneinfo import ZoneInfo

from core import jsonlimits
from core.instants import instant_or_none

from ..choices import DEFAULT_UNITS, Metric
from . import register
from .base import (
    Connector,
    ConnectorError,
    DataInventory,
    FetchError,
    ParseError,
    ParseResult,
    Payload,
    Reading,
    json_cut_off,
)

FEED_URL = "https://data.buienradar.nl/2.0/feed/json"
# The feed gives Dutch wall-clock times without an offset.
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# (feed field, metric, key suffix, series label)
ACTUAL_FIELDS = (
    ("temperature", Metric.TEMPERATURE, "temperature", "temperature"),
    ("precipitation", Metric.PRECIPITATION, "precipitation", "precipitation"),
    ("windspeed", Metric.WIND_SPEED, "wind_speed", "wind speed"),
)
# Forecasts come as ranges; each metric takes the end of the range that matters for safety planning:
# the highest maximum, the lowest minimum, the most rain. ``wind`` is in Beaufort.
FORECAST_FIELDS = (
    ("maxtemperatureMax", Metric.FORECAST_TEMPERATURE_MAX, "temperature_max"),
    ("mintemperatureMin", Metric.FORECAST_TEMPERATURE_MIN, "temperature_min"),
    ("rainChance", Metric.FORECAST_RAIN_CHANCE, "rain_chance"),
    ("mmRainMax", Metric.FORECAST_PRECIPITATION, "precipitation"),
    ("wind", Metric.FORECAST_WIND_SPEED, "wind_speed"),
)
# Middle of each WMO Beaufort band in m/s; force 12 has no upper bound, so its lower bound.
BEAUFORT_MS = {
    0: 0.1, 1: 0.9, 2: 2.45, 3: 4.4, 4: 6.7, 5: 9.35, 6: 12.3,
    7: 15.5, 8: 18.95, 9: 22.6, 10: 26.45, 11: 30.55, 12: 32.7,
}  # fmt: skip

NO_LOCATION = (
    "No weather station chosen: set 'station_id', or 'latitude' and 'longitude', in the source's "
    "configuration, or give the source (or the tenant) an area; the station nearest to it is used."
)
URL_HINT = f"check that the source's 'url' is the Buienradar JSON feed ({FEED_URL})."


@register
class BuienradarConnector(Connector):
    """Temperature, precipitation and wind of one Buienradar station, plus the five-day forecast."""

    kind = "buienradar"
    label = "Weather (Buienradar)"
    description = (
        "Weather data from buienradar.nl (https://www.buienradar.nl): temperature (°C), precipitation "
        "(mm/h) and wind speed (m/s) measured at one weather station, every 10 minutes, and the national "
        "five-day forecast (maximum and minimum temperature, chance of rain, rainfall, wind). Without a "
        "station id the station nearest to the source's areas is used. Weather data: buienradar.nl."
    )
    default_poll_interval = 600  # the feed is refreshed every 10 minutes
    stores = (
        "Per weather station: air temperature, precipitation intensity and wind speed with their "
        "measurement time, as published by Buienradar. Per forecast day: maximum and minimum temperature, "
        "chance of rain, expected rainfall and wind speed. No personal data."
    )
    inventory = DataInventory(
        metrics=(
            Metric.TEMPERATURE,
            Metric.PRECIPITATION,
            Metric.WIND_SPEED,
            Metric.FORECAST_TEMPERATURE_MAX,
            Metric.FORECAST_TEMPERATURE_MIN,
            Metric.FORECAST_RAIN_CHANCE,
            Metric.FORECAST_PRECIPITATION,
            Metric.FORECAST_WIND_SPEED,
        ),
        series="one per weather station and quantity, and one per forecast quantity",
        aggregation="station measurements as published (10-minute values); one value per forecast day",
    )
    config_schema = {
        "type": "object",
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "maxLength": 500,
                "default": FEED_URL,
                "description": "Address of the Buienradar JSON feed.",
            },
            "station_id": {
                "type": ["integer", "null"],
                "minimum": 1,
                "default": None,
                "description": (
                    "Buienradar station id, e.g. 6260 (De Bilt) or 6215 (Voorschoten). Empty: the station "
                    "nearest to the location below that measures temperature (sea platforms measuring only "
                    "wind are passed over)."
                ),
            },
            "latitude": {
                "type": ["number", "null"],
                "minimum": -90,
                "maximum": 90,
                "default": None,
                "description": (
                    "Latitude (WGS84) of the point to find the nearest station from. Empty: the centre of "
                    "the source's areas (or of all the tenant's areas)."
                ),
            },
            "longitude": {
                "type": ["number", "null"],
                "minimum": -180,
                "maximum": 180,
                "default": None,
                "description": (
                    "Longitude (WGS84) of the point to find the nearest station from. Empty: the centre of "
                    "the source's areas (or of all the tenant's areas)."
                ),
            },
            "include_forecast": {
                "type": "boolean",
                "default": True,
                "description": "Also store the national five-day forecast.",
            },
        },
        "additionalProperties": False,
    }

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        messages = super().validate_config(config)
        if isinstance(config, dict) and (config.get("latitude") is None) != (config.get("longitude") is None):
            messages.append("latitude/longitude: give both or neither.")
        return messages

    def fetch(self) -> list[Payload]:
        if self.config.get("station_id") is None and self._location() is None:
            raise ConnectorError(NO_LOCATION)  # a set-up problem: do not download the feed for nothing
        url = self.config.get("url") or FEED_URL
        try:
            response = self.http.get(url, headers={"Accept": "application/json"})
        except FetchError as exc:
            raise FetchError(
                f"Buienradar feed: {exc.message} If this persists, check the source's 'url'."
            ) from exc
        return [
            Payload(
                body=response.content,
                url=url,
                content_type=response.headers.get("content-type", ""),
                status=response.status_code,
            )
        ]

    def parse(self, payload: Payload) -> ParseResult:
        feed = _load_json(payload)
        if not isinstance(feed, dict) or not {"actual", "forecast"} & feed.keys():
            raise ParseError(
                f"The Buienradar feed at {payload.url} is JSON but has no 'actual' or 'forecast' section; "
                f"{URL_HINT}"
            )
        result = ParseResult()
        self._parse_actual(feed.get("actual"), result)
        if self.config.get("include_forecast", True):
            _parse_forecast(feed.get("forecast"), result)
        return result

    def _location(self) -> tuple[float, float] | None:
        """(lat, lon) to find the nearest station from: the configured point, else the areas' middle."""
        lat, lon = self.config.get("latitude"), self.config.get("longitude")
        if lat is not None and lon is not None:
            return float(lat), float(lon)
        if self.context.areas:
            # Centroids are (lon, lat); a plain mean is fine at the scale of one municipality.
            n = len(self.context.areas)
            return (
                sum(a.centroid[1] for a in self.context.areas) / n,
                sum(a.centroid[0] for a in self.context.areas) / n,
            )
        return None

    def _parse_actual(self, actual, result: ParseResult) -> None:
        stations = actual.get("stationmeasurements") if isinstance(actual, dict) else None
        stations = [s for s in stations if isinstance(s, dict)] if isinstance(stations, list) else []
        if not stations:
            result.warnings.append(
                "The feed has no station measurements this time (Buienradar leaves them out for a while "
                "around midnight); only the forecast was read."
            )
            return
        station = self._choose_station(stations, result)
        if station is None:
            return
        station_id = station.get("stationid")
        name = _station_name(station)
        if station_id is None or str(station_id).strip() == "":
            # The id is the series key; without it the series could not be found again next time.
            result.warnings.append(f"Station {name} has no 'stationid'; not stored.")
            return
        time = _local_time(station.get("timestamp"))
        if time is None:
            result.warnings.append(
                f"Station {station_id} ({name}): no valid 'timestamp' ({station.get('timestamp')!r}); "
                "not stored."
            )
            return
        lat, lat_problem = _number(station, "lat")
        lon, lon_problem = _number(station, "lon")
        location = (lon, lat) if lat_problem is None and lon_problem is None else None
        for field, metric, suffix, label in ACTUAL_FIELDS:
            value, problem = _number(station, field)
            if problem:
                result.warnings.append(f"Station {station_id} ({name}): {problem}; not stored.")
                continue
            result.readings.append(
                Reading(
                    key=f"{station_id}:{suffix}",
                    metric=metric.value,
                    time=time,
                    value=value,
                    unit=DEFAULT_UNITS[metric],
                    name=f"{name} {label}",
                    facility=str(station_id),
                    location=location,
                )
            )

    def _choose_station(self, stations: list[dict], result: ParseResult) -> dict | None:
        """The configured station, else the nearest one that measures temperature (else the nearest)."""
        wanted = self.config.get("station_id")
        if wanted is not None:
            for station in stations:
                if str(station.get("stationid")) == str(wanted):
                    return station
            known = ", ".join(
                f"{s.get('stationid')} {_station_name(s)}"
                for s in sorted(stations, key=lambda s: str(s.get("stationid")))
            )
            raise ParseError(
                f"Station {wanted} is not in the Buienradar feed; set 'station_id' to one of: {known} "
                "(or leave it empty to use the station nearest to the areas)."
            )
        location = self._location()
        if location is None:
            raise ConnectorError(NO_LOCATION)
        placed = [s for s in stations if _number(s, "lat")[1] is None and _number(s, "lon")[1] is None]
        if not placed:
            result.warnings.append("No station in the feed has coordinates; no measurements stored.")
            return None
        on_land = [s for s in placed if _number(s, "temperature")[1] is None]
        return min(on_land or placed, key=lambda s: _distance_km(location, (s["lat"], s["lon"])))


def _parse_forecast(forecast, result: ParseResult) -> None:
    days = forecast.get("fivedayforecast") if isinstance(forecast, dict) else None
    if not isinstance(days, list) or not days:
        result.warnings.append("The feed has no five-day forecast this time; no forecast stored.")
        return
    for number, day in enumerate(days, start=1):
        time = _local_time(day.get("day")) if isinstance(day, dict) else None
        if time is None:
            shown = day.get("day") if isinstance(day, dict) else day
            result.warnings.append(f"Forecast day {number}: no valid 'day' ({shown!r}); not stored.")
            continue
        for field, metric, suffix in FORECAST_FIELDS:
            value, problem = _number(day, field)
            if problem is None and metric == Metric.FORECAST_WIND_SPEED:
                if value not in BEAUFORT_MS:
                    problem = f"'{field}' is {value:g}, not a Beaufort force 0-12"
                else:
                    value = BEAUFORT_MS[int(value)]
            if problem:
                result.warnings.append(f"Forecast for {time.date().isoformat()}: {problem}; not stored.")
                continue
            result.readings.append(
                Reading(
                    key=f"forecast:{suffix}",
                    metric=metric.value,
                    time=time,
                    value=value,
                    unit=DEFAULT_UNITS[metric],
                    name=f"Buienradar {metric.label}",
                )
            )


def _load_json(payload: Payload):
    """The decoded body, or a ParseError saying what came instead."""
    body = payload.body or b""
    where = f"The Buienradar feed at {payload.url}"
    if not body.strip():
        raise ParseError(f"{where} sent an empty body; {URL_HINT}")
    if body.lstrip()[:1] == b"<":
        start = " ".join(body.lstrip()[:60].decode("utf-8", "replace").split())
        raise ParseError(
            f"{where} sent HTML or XML instead of JSON (content type '{payload.content_type}', starting "
            f"'{start}'); {URL_HINT}"
        )
    try:
        return jsonlimits.loads(body)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"{where} sent broken JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}): the response "
            f"was cut off or damaged. If this keeps happening, {URL_HINT}",
            retryable=json_cut_off(exc),
        ) from exc
    except ValueError as exc:  # not UTF-8/16/32
        raise ParseError(f"{where} sent a body that is not JSON text ({exc}); {URL_HINT}") from exc


def _number(record: dict, field: str) -> tuple[float | None, str | None]:
    """``record[field]`` as a finite float, or None and the reason it is unusable."""
    if field not in record:
        return None, f"no '{field}' in the feed"
    value = record[field]
    if value is None:
        return None, f"'{field}' is null"
    if isinstance(value, bool):
        return None, f"'{field}' is not a number ({value!r})"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, f"'{field}' is not a number ({value!r})"
    if not math.isfinite(number):
        return None, f"'{field}' is not a finite number ({value!r})"
    return number, None


def _local_time(text) -> datetime | None:
    """A feed time (Dutch wall-clock time without offset) as an aware datetime; None when unreadable."""
    # In the autumn hour that occurs twice, fold=0 reads it as summer time; the feed cannot say which.
    return instant_or_none(text, naive_zone=AMSTERDAM)


def _station_name(station: dict) -> str:
    name = str(station.get("stationname") or f"station {station.get('stationid')}")
    return name.removeprefix("Meetstation ").strip()


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, float(b[0]), float(b[1])))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
