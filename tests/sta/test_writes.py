"""Observation writes: POST Observations, Datastreams(id)/Observations and CreateObservations (dataArray)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_scopes import scopes_disabled

from sources.models import Observation, Series
from tenants.choices import Role
from tenants.services import api_token_issue
from tests.factories import member, token_for

pytestmark = pytest.mark.clock  # reads the clock: run again under CSM_TEST_CLOCK in CI

ROOT = "/sta/v1.1/tenants/tenant-a"


def _recent(minutes: int = 10) -> str:
    return (datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def writer(tenant_a, api):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(member(tenant_a, Role.INTEGRATION))}")
    return api


def _stored(series) -> list[float]:
    with scopes_disabled():
        return list(
            Observation.objects.filter(series=series).order_by("time").values_list("value", flat=True)
        )


def test_post_an_observation_to_a_datastream(world, writer):
    time = _recent()
    response = writer.post(
        f"{ROOT}/Datastreams({world.cam_pier.pk})/Observations",
        {"phenomenonTime": time, "result": 55},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        response["Location"]
        == body["@iot.selfLink"]
        == f"http://testserver{ROOT}/Observations({body['@iot.id']})"
    )
    assert body["result"] == 55 and body["phenomenonTime"] == time.replace("+00:00", "Z")
    assert _stored(world.cam_pier) == [40, 60, 80, 55]
    with scopes_disabled():
        series = Series.objects.get(pk=world.cam_pier.pk)
    assert series.latest_value == 55  # the push API's ingestion path moved the latest value

    again = writer.post(
        f"{ROOT}/Observations",
        {"phenomenonTime": time, "result": 55, "Datastream": {"@iot.id": world.cam_pier.pk}},
        format="json",
    )
    assert again.status_code == 200 and again.json()["@iot.id"] == body["@iot.id"]  # idempotent retry
    other = writer.post(
        f"{ROOT}/Datastreams({world.cam_pier.pk})/Observations",
        {"phenomenonTime": time, "result": 56},
        format="json",
    )
    assert other.status_code == 409 and "first write wins" in other.json()["message"]
    assert _stored(world.cam_pier) == [40, 60, 80, 55]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"phenomenonTime": "2026-07-04T13:00:00", "result": 5}, 400, "has no time zone"),
        ({"phenomenonTime": "2026-07-04T13:00:00Z/2026-07-04T14:00:00Z", "result": 5}, 400, "intervals"),
        ({"phenomenonTime": "2026-07-04T13:00:00Z", "result": -5}, 400, "negative"),
        ({"phenomenonTime": "2026-07-04T13:00:00Z", "result": "many"}, 400, "not a number"),
        ({"phenomenonTime": "IN-A-YEAR", "result": 5}, 400, "future"),
        ({"phenomenonTime": "2026-07-04T13:00:00Z"}, 400, "needs a 'result'"),
        ({"phenomenonTime": "2026-07-04T13:00:00Z", "result": 5, "colour": "red"}, 400, "Unknown or unsupported"),
        ({"phenomenonTime": "2026-07-04T13:00:00Z", "result": 5, "FeatureOfInterest": {"@iot.id": 0}}, 400,
         "FeatureOfInterest"),
        ({"phenomenonTime": "2026-07-04T13:00:00Z", "result": 5, "Datastream": {"@iot.id": 0}}, 400,
         "another Datastream"),
        ([1, 2], 400, "JSON object"),
    ],
)  # fmt: skip
def test_bad_observations_are_rejected_whole(body, status, message, world, writer):
    if isinstance(body, dict) and body["phenomenonTime"] == "IN-A-YEAR":  # "future" relative to the clock
        body = {**body, "phenomenonTime": (datetime.now(UTC) + timedelta(days=365)).isoformat()}
    response = writer.post(f"{ROOT}/Datastreams({world.cam_pier.pk})/Observations", body, format="json")
    assert response.status_code == status, response.content
    assert message in response.json()["message"] and response.json()["status"] == status
    assert _stored(world.cam_pier) == [40, 60, 80]


def test_malformed_json_is_400(world, writer):
    response = writer.post(f"{ROOT}/Observations", data=b'{"result": ', content_type="application/json")
    assert response.status_code == 400 and "Malformed JSON" in response.json()["message"]


def test_readers_may_not_write_and_tokens_keep_their_source_limits(world, api, tenant_a):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(member(tenant_a, Role.ANALYST))}")
    body = {"phenomenonTime": _recent(), "result": 5}
    assert (
        api.post(f"{ROOT}/Datastreams({world.garage.pk})/Observations", body, format="json").status_code
        == 403
    )

    integration = member(tenant_a, Role.INTEGRATION, username="camera-vendor")
    _, raw = api_token_issue(user=integration, tenant=tenant_a, source_ids=[world.cameras.pk])
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    refused = api.post(f"{ROOT}/Datastreams({world.garage.pk})/Observations", body, format="json")
    assert refused.status_code == 403 and "may not write" in refused.json()["message"]
    allowed = api.post(f"{ROOT}/Datastreams({world.cam_pier.pk})/Observations", body, format="json")
    assert allowed.status_code == 201
    assert api.post(f"{ROOT}/Things", body, format="json").status_code == 405
    assert _stored(world.garage) == [300, 250, 200]


def test_create_observations_data_array(world, writer):
    # One row repeats an observation of the world (4 July 2026): pushes keep to a window around now, so
    # the test runs an hour after the world's last observation, whatever the date.
    with time_machine.travel(datetime(2026, 7, 4, 13, 30, tzinfo=UTC), tick=True):
        _create_observations_data_array(world, writer)


def _create_observations_data_array(world, writer):
    times = [_recent(30), _recent(25), _recent(20)]
    body = [
        {
            "Datastream": {"@iot.id": world.cam_kurhaus.pk},
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray@iot.count": 3,
            "dataArray": [
                [times[0], 10, world.kurhaus.pk],
                [times[1], -3, world.kurhaus.pk],
                [times[2], 12, None],
            ],
        },
        {
            "Datastream": {"@iot.id": world.garage.pk},
            "components": ["result", "phenomenonTime"],
            "dataArray": [[111, times[0]], [300, "2026-07-04T12:00:00Z"]],  # the second one is stored already
        },
    ]
    response = writer.post(f"{ROOT}/CreateObservations", body, format="json")
    assert response.status_code == 201, response.content
    links = response.json()
    assert links[1] == "error"  # a negative count: rejected like in the push API, the others are stored
    assert [link.split("/Observations(")[0] for link in links if link != "error"] == [
        f"http://testserver{ROOT}"
    ] * 4
    assert links[4] == f"http://testserver{ROOT}/Observations({world.observations[8].pk})"
    assert _stored(world.cam_kurhaus) == [120, 150, 180, 210, 90, 10, 12]
    assert _stored(world.garage) == [300, 250, 200, 111]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "non-empty JSON array"),
        (
            [{"Datastream": {"@iot.id": 0}, "components": ["result"], "dataArray": [[1]]}],
            404,
            "no Datastream",
        ),
        ([{"Datastream": {"@iot.id": "x"}, "components": ["result"], "dataArray": [[1]]}], 400, "@iot.id"),
        (["x"], 400, "must be an object"),
        ("DS", 400, "components"),
        ("DS-rows", 400, "cannot be read; nothing was stored"),
        ("DS-foi", 400, "cannot be read"),
    ],
)
def test_bad_data_arrays_store_nothing(body, status, message, world, writer, settings):
    ds = {"Datastream": {"@iot.id": world.cam_pier.pk}}
    body = {
        "DS": [ds | {"components": ["result", "colour"], "dataArray": [[1, "red"]]}],
        "DS-rows": [ds | {"components": ["phenomenonTime", "result"], "dataArray": [[_recent(), 1], [_recent(5)]]}],
        "DS-foi": [ds | {"components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
                         "dataArray": [[_recent(), 1, world.pier.pk], [_recent(5), 2, world.kurhaus.pk]]}],
    }.get(body, body) if isinstance(body, str) else body  # fmt: skip
    response = writer.post(f"{ROOT}/CreateObservations", body, format="json")
    assert response.status_code == status, response.content
    assert message in response.json()["message"]
    assert _stored(world.cam_pier) == [40, 60, 80]


def test_data_array_above_the_row_limit_is_413(world, writer, settings):
    settings.PUSH_MAX_ROWS = 2
    body = [{"Datastream": {"@iot.id": world.cam_pier.pk}, "components": ["phenomenonTime", "result"],
             "dataArray": [[_recent(m), 1] for m in (1, 2, 3)]}]  # fmt: skip
    response = writer.post(f"{ROOT}/CreateObservations", body, format="json")
    assert response.status_code == 413
    assert _stored(world.cam_pier) == [40, 60, 80]
