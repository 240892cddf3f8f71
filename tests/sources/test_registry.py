"""The connector registry: every connector is complete, documented and tested."""

from pathlib import Path

import jsonschema
import pytest

from sources.choices import Metric
from sources.connectors import connector_kinds
from sources.connectors.base import Connector

TESTS = Path(__file__).parent
TESTED_ELSEWHERE = {"counting_camera": "test_push.py", "replay": "test_tasks.py"}


def test_expected_connectors_are_registered():
    assert set(connector_kinds()) >= {
        "counting_camera", "generic_json", "buienradar", "parking", "ndw_traffic", "gtfs_realtime",
        "sensorthings", "replay", "ndov_kv6", "fiware_ngsi",
        "crowd_counts_csv", "amsterdam_parking", "datex_parking",
    }  # fmt: skip


@pytest.mark.parametrize("kind", sorted(connector_kinds()))
def test_connector_is_complete(kind):
    cls = connector_kinds()[kind]
    assert issubclass(cls, Connector)
    assert cls.label and cls.description and cls.stores, (
        "label, description and stores feed forms and the register"
    )
    jsonschema.Draft202012Validator.check_schema(cls.config_schema)
    jsonschema.Draft202012Validator.check_schema(cls.secret_schema)
    assert cls.config_schema.get("additionalProperties") is False, "unknown config keys must be rejected"
    assert 10 <= cls.default_poll_interval <= 86_400
    if not cls.push_only:
        assert cls.fetch is not Connector.fetch and cls.parse is not Connector.parse


@pytest.mark.parametrize("kind", sorted(connector_kinds()))
def test_connector_has_tests(kind):
    module = TESTED_ELSEWHERE.get(kind, f"connectors/test_{kind}.py")
    assert (TESTS / module).is_file(), f"add {module} with tests against a recorded payload"


def test_metrics_cover_the_domain():
    assert {"people_count", "people_in", "people_out", "visitor_estimate", "parking_vacant", "parking_capacity",
            "vehicle_flow", "transit_arrivals", "transit_occupancy", "temperature", "precipitation",
            "wind_speed"} <= set(Metric.values)  # fmt: skip
