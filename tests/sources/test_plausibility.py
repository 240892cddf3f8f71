"""Plausibility bounds on pushed observations (REST push and SensorThings): a time window around now,
per-metric value ranges and whole numbers for counts; each rejected row is named with its reason and the
valid rows of the same request are stored."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.models import Observation, Series
from sources.plausibility import RANGES, value_problem
from tenants.services import api_token_issue
from tests.helpers import assert_problem

pytestmark = pytest.mark.clock  # dates rows from now: run again under CSM_TEST_CLOCK in CI


def ago(**delta) -> str:
    return (timezone.now() - timedelta(**delta)).replace(microsecond=0).isoformat()


def push(client, source, rows):
    return client.post(
        f"/api/v1/tenants/{source.tenant.slug}/sources/{source.pk}/observations/",
        json.dumps(rows),
        content_type="application/json",
    )


def stored_values(source) -> list[float]:
    with scopes_disabled():
        return sorted(Observation.objects.filter(series__source=source).values_list("value", flat=True))


def test_implausible_rows_are_rejected_one_by_one_and_the_rest_is_stored(pusher, camera):
    rows = [
        {"series": "cam-1", "time": ago(minutes=5), "value": 120},  # 0: fine
        {"series": "cam-1", "time": "0001-01-01T00:00:00Z", "value": 10},  # 1: year 1
        {"series": "cam-1", "time": "1900-06-01T12:00:00+01:00", "value": 10},  # 2: 1900
        {"series": "cam-1", "time": ago(days=-3), "value": 10},  # 3: three days ahead
        {"series": "cam-1", "time": ago(minutes=4), "value": 1e300},  # 4: more people than exist
        {"series": "cam-1", "time": ago(minutes=3), "value": 2.5},  # 5: half a person
        {"series": "cam-1", "time": ago(minutes=2), "value": -4},  # 6: negative
        {"series": "cam-1", "time": ago(minutes=1), "value": 130.0},  # 7: fine (a whole number as float)
        {"series": "rain", "time": ago(minutes=1), "value": 150, "metric": "forecast_rain_chance"},  # 8
        {"series": "temp", "time": ago(minutes=1), "value": -95, "metric": "temperature"},  # 9
        {"series": "temp", "time": ago(minutes=2), "value": 11.5, "metric": "temperature"},  # 10: fine
    ]
    response = push(pusher, camera, rows)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (3, 8)
    reasons = {error["row"]: error["reason"] for error in body["errors"]}
    assert set(reasons) == {1, 2, 3, 4, 5, 6, 8, 9}
    for row in (1, 2):
        assert "is older than 365 days (this tenant's retention_days" in reasons[row], reasons[row]
    assert "in the future" in reasons[3]
    assert "above 1000000" in reasons[4] and "people_count" in reasons[4]
    assert "whole number" in reasons[5]
    assert "negative" in reasons[6]
    assert "above 100" in reasons[8]
    assert "below -60" in reasons[9]
    assert stored_values(camera) == [11.5, 120.0, 130.0]


def test_all_rejected_is_400_and_atomic_stores_nothing(pusher, camera):
    response = push(pusher, camera, [{"series": "cam-1", "time": ago(minutes=1), "value": 0.5}])
    problem = assert_problem(response, 400, "rows_rejected")
    assert "whole number" in problem["errors"][0]["reason"]
    rows = [
        {"series": "cam-1", "time": ago(minutes=2), "value": 5},
        {"series": "cam-1", "time": "1900-01-01T00:00:00Z", "value": 5},
    ]
    response = pusher.post(
        f"/api/v1/tenants/tenant-a/sources/{camera.pk}/observations/?atomic=true",
        json.dumps(rows),
        content_type="application/json",
    )
    assert_problem(response, 400, "rows_rejected")
    assert stored_values(camera) == []


def test_the_window_is_configurable_and_never_wider_than_the_retention(pusher, camera, settings, tenant_a):
    settings.PUSH_MAX_AGE_DAYS = 2
    response = push(pusher, camera, [{"series": "cam-1", "time": ago(days=3), "value": 5}])
    assert (
        "older than 2 days (PUSH_MAX_AGE_DAYS)"
        in assert_problem(response, 400, "rows_rejected")["errors"][0]["reason"]
    )
    settings.PUSH_MAX_AGE_DAYS = 3650
    tenant_a.retention_days = 30
    tenant_a.save()
    response = push(pusher, camera, [{"series": "cam-1", "time": ago(days=31), "value": 5}])
    reason = assert_problem(response, 400, "rows_rejected")["errors"][0]["reason"]
    assert "older than 30 days" in reason and "retention_days" in reason
    assert (
        push(pusher, camera, [{"series": "cam-1", "time": ago(days=29), "value": 5}]).json()["accepted"] == 1
    )
    settings.OBSERVATION_MAX_FUTURE_SECONDS = 3600
    assert (
        push(pusher, camera, [{"series": "cam-1", "time": ago(minutes=-30), "value": 5}]).json()["accepted"]
        == 1
    )


def test_sensorthings_push_has_the_same_bounds(api, tenant_a, camera, users):
    with scopes_disabled():
        series = Series.objects.create(tenant=tenant_a, source=camera, key="cam-9", metric="people_count")
    token = api_token_issue(user=users["integration"], tenant=tenant_a, source_ids=[camera.pk])[1]
    for result, time, reason in [
        (2.5, ago(minutes=1), "whole number"),
        (10, "1900-01-01T00:00:00Z", "is older than"),
        (1e300, ago(minutes=1), "above 1000000"),
    ]:
        response = api.post(
            f"/sta/v1.1/tenants/tenant-a/Datastreams({series.pk})/Observations",
            json.dumps({"phenomenonTime": time, "result": result}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
        )
        assert response.status_code == 400, response.content
        assert reason in response.json()["detail"]
    assert stored_values(camera) == []


def test_every_metric_has_a_range_and_counts_are_whole_numbers():
    from sources.choices import Metric

    assert set(RANGES) == set(Metric.values)
    assert value_problem(3.0, "people_in") is None
    assert "whole number" in value_problem(3.2, "people_in")
    assert value_problem(3.2, "visitor_estimate") is None  # an estimate, not a count
    assert value_problem(-12.5, "temperature") is None
    assert "not a finite number" in value_problem(float("nan"), "other")
