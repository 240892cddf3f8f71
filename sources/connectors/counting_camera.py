"""Counting cameras: vendors push aggregated counts to us (people present, line crossings in/out, or
people passing a counting line per minute, with the line's width in ``line_width_m``).

No images, no tracks, no identifiers of people: a camera reports numbers per interval, which is all
this connector accepts. Push with ``POST /api/v1/tenants/{tenant}/sources/{id}/observations/``.
"""

from ..choices import Metric
from . import register
from .base import Connector, DataInventory


@register
class CountingCameraConnector(Connector):
    kind = "counting_camera"
    label = "Counting camera (push)"
    description = (
        "The camera vendor pushes counts per sensor: people present (occupancy) or line crossings in/out per "
        "interval. Each camera or counting line is a series, keyed by the vendor's sensor id."
    )
    push_only = True
    default_poll_interval = 60
    stores = (
        "Per sensor and interval: number of people present, entering or leaving, or passing a counting line "
        "per minute. No images, no identifiers."
    )
    inventory = DataInventory(
        metrics=(Metric.PEOPLE_COUNT, Metric.PEOPLE_IN, Metric.PEOPLE_OUT, Metric.PEOPLE_PASSING),
        series="one per counting camera or counting line",
        aggregation="the number of people present, entering or leaving per counting interval of the sensor",
    )
    config_schema = {
        "type": "object",
        "properties": {
            "default_metric": {
                "type": "string",
                "enum": ["people_count", "people_in", "people_out", "people_passing"],
                "default": "people_count",
                "description": "Metric of a new series when a pushed row does not say.",
            },
            "vendor": {"type": "string", "maxLength": 200, "description": "Camera vendor, for the register."},
            "interval_seconds": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 60},
        },
        "additionalProperties": False,
    }
