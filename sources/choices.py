"""Choices of the sources app: what is measured, and in which unit."""

from django.db import models


class Metric(models.TextChoices):
    """What a series measures. Aggregated counts and environment values only: never personal data."""

    PEOPLE_COUNT = "people_count", "people present (occupancy)"
    PEOPLE_IN = "people_in", "people entering per interval"
    PEOPLE_OUT = "people_out", "people leaving per interval"
    PEOPLE_PASSING = "people_passing", "people passing a counting line (per minute)"
    VISITOR_ESTIMATE = "visitor_estimate", "estimated visitors (GPS panel)"
    PARKING_VACANT = "parking_vacant", "vacant parking spaces"
    PARKING_CAPACITY = "parking_capacity", "parking capacity"
    VEHICLE_FLOW = "vehicle_flow", "vehicle flow"
    VEHICLE_SPEED = "vehicle_speed", "average vehicle speed"
    TRANSIT_ARRIVALS = "transit_arrivals", "public transport arrivals"
    TRANSIT_OCCUPANCY = "transit_occupancy", "public transport occupancy"
    TRANSIT_DELAY = "transit_delay", "public transport delay (negative: early)"
    TEMPERATURE = "temperature", "temperature"
    PRECIPITATION = "precipitation", "precipitation"
    WIND_SPEED = "wind_speed", "wind speed"
    FORECAST_TEMPERATURE_MAX = "forecast_temperature_max", "forecast maximum temperature"
    FORECAST_TEMPERATURE_MIN = "forecast_temperature_min", "forecast minimum temperature"
    FORECAST_RAIN_CHANCE = "forecast_rain_chance", "forecast chance of rain"
    FORECAST_PRECIPITATION = "forecast_precipitation", "forecast precipitation"
    FORECAST_WIND_SPEED = "forecast_wind_speed", "forecast wind speed"
    OTHER = "other", "other"


DEFAULT_UNITS = {
    Metric.PEOPLE_COUNT: "persons",
    Metric.PEOPLE_IN: "persons",
    Metric.PEOPLE_OUT: "persons",
    Metric.PEOPLE_PASSING: "persons/min",
    Metric.VISITOR_ESTIMATE: "persons",
    Metric.PARKING_VACANT: "spaces",
    Metric.PARKING_CAPACITY: "spaces",
    Metric.VEHICLE_FLOW: "vehicles/h",
    Metric.VEHICLE_SPEED: "km/h",
    Metric.TRANSIT_ARRIVALS: "vehicles",
    Metric.TRANSIT_OCCUPANCY: "%",
    Metric.TRANSIT_DELAY: "s",
    Metric.TEMPERATURE: "°C",
    Metric.PRECIPITATION: "mm/h",
    Metric.WIND_SPEED: "m/s",
    Metric.FORECAST_TEMPERATURE_MAX: "°C",
    Metric.FORECAST_TEMPERATURE_MIN: "°C",
    Metric.FORECAST_RAIN_CHANCE: "%",
    Metric.FORECAST_PRECIPITATION: "mm",
    Metric.FORECAST_WIND_SPEED: "m/s",
    Metric.OTHER: "",
}

# Counts of people or vehicles cannot be negative; temperatures can.
# Forecasts describe the future; every other observation must not lie more than 5 minutes ahead.
FUTURE_METRICS = frozenset(m for m in Metric if m.value.startswith("forecast_"))


class SourceStatus(models.TextChoices):
    """Health of a source, derived from its last fetches."""

    OK = "ok", "ok"
    FAILING = "failing", "failing"
    CIRCUIT_OPEN = "circuit_open", "circuit open (paused after repeated failures)"
    STALE = "stale", "no recent data"
    NO_DATA = "no_data", "no data: the last fetches succeeded but brought no observations"
    NEVER_RUN = "never_run", "not fetched yet"
    DISABLED = "disabled", "disabled"
    PUSH = "push", "push source"
