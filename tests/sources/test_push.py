"""Push API: JSON and CSV, per-row reasons, idempotence, atomic mode, limits and token rights."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.models import Observation, Series
from tenants.services import api_token_issue
from tests.factories import make_source, member
from tests.helpers import assert_problem

pytestmark = pytest.mark.clock  # reads the clock: run again under CSM_TEST_CLOCK in CI


def url(source):
    return f"/api/v1/tenants/{source.tenant.slug}/sources/{source.pk}/observations/"


def ts(minutes_ago: float = 0) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).replace(microsecond=0).isoformat()


def push(client, source, rows, **params):
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return client.post(url(source) + query, json.dumps(rows), content_type="application/json")


def stored(source):
    with scopes_disabled():
        return sorted(
            Observation.objects.filter(series__source=source).values_list("series__key", "value"), key=str
        )


def test_push_creates_series_and_stores(pusher, camera):
    rows = [
        {"series": "cam-7", "time": ts(10), "value": 120},
        {"series": "cam-7", "time": ts(5), "value": 135},
        {"series": "line-3-in", "time": ts(5), "value": 40, "metric": "people_in"},
    ]
    response = push(pusher, camera, rows)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "accepted": 3, "duplicate": 0, "rejected": 0, "updated": 0, "errors": [], "conflicts": [],
        "created_series": ["cam-7", "line-3-in"], "warnings": [],
    }  # fmt: skip
    with scopes_disabled():
        cam = Series.objects.get(key="cam-7")
        line = Series.objects.get(key="line-3-in")
    assert (cam.metric, cam.unit, cam.area.slug, cam.latest_value) == (
        "people_count",
        "persons",
        "boulevard",
        135,
    )
    assert line.metric == "people_in"


def test_repeated_push_is_idempotent_and_first_write_wins(pusher, camera):
    rows = [
        {"series": "cam-7", "time": ts(10), "value": 120},
        {"series": "cam-7", "time": ts(5), "value": 135},
    ]
    push(pusher, camera, rows)
    again = push(pusher, camera, [*rows[:1], {**rows[1], "value": 999}]).json()
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 2, 0)
    assert again["conflicts"] == [
        {"row": 1, "series": "cam-7", "time": rows[1]["time"].replace("Z", "+00:00"), "value": 999,
         "kept_value": 135.0, "reason": "stored earlier with another value; the first write wins"}
    ]  # fmt: skip
    assert stored(camera) == [("cam-7", 120.0), ("cam-7", 135.0)]


def test_a_large_batch_of_conflicting_duplicates_is_reported_not_a_500(pusher, camera):
    """1,200 rows pushed again with other values: the conflicts are listed (up to 1,000), on every database
    (an OR per row once overflowed SQLite's expression depth)."""
    rows = [{"series": f"cam-{n % 3}", "time": ts(n / 10), "value": n} for n in range(1200)]
    assert push(pusher, camera, rows).json()["accepted"] == 1200
    again = push(pusher, camera, [{**row, "value": row["value"] + 1} for row in rows])
    assert again.status_code == 200, again.content
    body = again.json()
    assert (body["accepted"], body["duplicate"], len(body["conflicts"])) == (0, 1200, 1000)
    assert {c["kept_value"] for c in body["conflicts"]} == {float(n) for n in range(1000)}


def test_bad_rows_are_rejected_one_by_one_and_good_rows_kept(pusher, camera):
    future = (timezone.now() + timedelta(minutes=30)).isoformat()
    rows = [
        {"series": "cam-7", "time": ts(10), "value": 120},  # good
        {"series": "cam-7", "time": "2026-07-04T14:05:00", "value": 1},  # naive time
        {"series": "cam-7", "time": future, "value": 1},  # future
        {"series": "cam-7", "time": ts(9), "value": -4},  # negative count
        {"series": "cam-7", "time": ts(8), "value": "12"},  # wrong type
        {"series": "cam-7", "time": ts(7), "value": float("nan")},  # NaN (Python writes it as NaN)
        {"series": "cam-7", "time": ts(6), "value": float("inf")},  # Infinity
        {"series": "cam-7", "time": "yesterday", "value": 1},  # not ISO 8601
        {"series": "", "time": ts(5), "value": 1},  # empty key
        {"time": ts(5), "value": 1},  # missing series
        {"series": "cam-8", "time": ts(5), "value": 3, "metric": "happiness"},  # unknown metric
        "not an object",
        {"series": "cam-7", "time": ts(10), "value": 120},  # repeats row 0
    ]
    response = push(pusher, camera, rows)
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 1, 11)
    reasons = {e["row"]: e["reason"] for e in body["errors"]}
    assert "has no time zone" in reasons[1]
    assert "more than 5 minutes in the future" in reasons[2]
    assert "negative" in reasons[3]
    assert "not a number" in reasons[4]
    assert "not a finite number" in reasons[5] and "not a finite number" in reasons[6]
    assert "not ISO 8601" in reasons[7]
    assert "non-empty string" in reasons[8]
    assert "Missing field(s): series" in reasons[9]
    assert "Unknown metric 'happiness'" in reasons[10]
    assert "not an object" in reasons[11]
    assert stored(camera) == [("cam-7", 120.0)]


def test_atomic_push_stores_nothing_when_a_row_is_bad(pusher, camera):
    rows = [
        {"series": "cam-7", "time": ts(10), "value": 120},
        {"series": "cam-7", "time": ts(5), "value": -1},
    ]
    problem = assert_problem(push(pusher, camera, rows, atomic="true"), 400, "rows_rejected")
    assert problem["errors"][0]["row"] == 1
    assert stored(camera) == []
    assert push(pusher, camera, rows[:1], atomic="true").json()["accepted"] == 1


def test_all_rows_rejected_is_a_400(pusher, camera):
    problem = assert_problem(push(pusher, camera, [{"series": "cam-7", "time": "x", "value": 1}]), 400)
    assert problem["errors"][0]["reason"].startswith("Time 'x' is not ISO 8601")


def test_csv_push(pusher, camera):
    body = f"series,time,value\ncam-7,{ts(10)},120\ncam-7,{ts(5)},abc\ncam-7,{ts(4)}\n\ncam-7,{ts(3)},130\n"
    response = pusher.post(url(camera), body, content_type="text/csv")
    assert response.status_code == 200, response.content
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (2, 3)
    assert [e["row"] for e in result["errors"]] == [1, 2, 3]
    assert "'abc' is not a number" in result["errors"][0]["reason"]
    assert "2 columns; the header has 3" in result["errors"][1]["reason"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("{not json", "application/json", 400, "JSON parse error"),
        ('{"series": "cam-7"}', "application/json", 400, "JSON array"),
        ("time,value\n", "text/csv", 400, "CSV header lacks series"),
        ("", "text/csv", 400, "CSV body is empty"),
        ("<xml/>", "application/xml", 415, "Unsupported media type"),
    ],
)
def test_malformed_bodies(pusher, camera, body, content_type, status, message):
    problem = assert_problem(pusher.post(url(camera), body, content_type=content_type), status)
    assert message in problem["detail"]


def test_more_than_10000_rows_is_413(pusher, camera, settings):
    rows = [{"series": "cam-7", "time": ts(1), "value": 1}] * 10_001
    problem = assert_problem(push(pusher, camera, rows), 413, "too_many_rows")
    assert "at most 10000" in problem["detail"]
    csv_body = "series,time,value\n" + f"cam-7,{ts(1)},1\n" * 10_001
    assert_problem(pusher.post(url(camera), csv_body, content_type="text/csv"), 413)
    assert stored(camera) == []


def test_token_limited_to_another_source_is_refused(api, tenant_a, users, camera):
    other = make_source(tenant_a, slug="other-cameras")
    token = api_token_issue(user=users["integration"], tenant=tenant_a, source_ids=[other.pk])[1]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert_problem(push(api, camera, [{"series": "cam-7", "time": ts(1), "value": 1}]), 403)


def test_unknown_series_is_rejected_without_the_create_right(api, tenant_a, users, camera):
    token = api_token_issue(user=users["integration"], tenant=tenant_a, source_ids=[camera.pk])[1]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    problem = assert_problem(push(api, camera, [{"series": "cam-new", "time": ts(1), "value": 1}]), 400)
    assert "may not create series" in problem["errors"][0]["reason"]


@pytest.mark.parametrize("role", ["operator", "analyst", "organiser"])
def test_only_integration_and_admins_push(api_as, users, camera, role):
    assert_problem(push(api_as(users[role]), camera, [{"series": "cam-7", "time": ts(1), "value": 1}]), 403)


def test_admin_issues_a_push_token_for_the_integration_account(api_as, admin_a, api, camera, users):
    response = api_as(admin_a).post(
        f"/api/v1/tenants/tenant-a/sources/{camera.pk}/push-tokens/",
        {"user": users["integration"].username, "may_create_series": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert push(api, camera, [{"series": "cam-1", "time": ts(1), "value": 5}]).json()["accepted"] == 1
    refused = api_as(admin_a).post(
        f"/api/v1/tenants/tenant-a/sources/{camera.pk}/push-tokens/",
        {"user": users["analyst"].username},
        format="json",
    )
    assert "integration or admin role" in assert_problem(refused, 400)["errors"]["user"][0]


def test_push_to_a_source_of_another_tenant_is_404(pusher, tenant_b):
    theirs = make_source(tenant_b, slug="their-cameras")
    member(tenant_b, "admin", username="b-admin")
    assert_problem(push(pusher, theirs, [{"series": "x", "time": ts(1), "value": 1}]), 404)


def test_forecasts_may_lie_ahead_and_are_revised(pusher, camera):
    tomorrow = (timezone.now() + timedelta(days=1)).replace(microsecond=0).isoformat()
    row = {"series": "rain-tomorrow", "time": tomorrow, "value": 40, "metric": "forecast_rain_chance"}
    first = push(pusher, camera, [row]).json()
    assert (first["accepted"], first["rejected"]) == (1, 0)
    revised = push(pusher, camera, [{**row, "value": 70}]).json()
    assert (revised["accepted"], revised["updated"], revised["duplicate"]) == (0, 1, 0)
    assert push(pusher, camera, [{**row, "value": 70}]).json()["duplicate"] == 1
    assert stored(camera) == [("rain-tomorrow", 70.0)]
    with scopes_disabled():
        assert Series.objects.get(key="rain-tomorrow").latest_value == 70


def test_passer_by_counts_are_pushed_with_the_width_of_their_counting_line(pusher, camera):
    rows = [
        {"series": "line-1", "time": ts(1), "value": 42.5, "metric": "people_passing", "line_width_m": 6.5},
        {"series": "line-2", "time": ts(1), "value": 10, "metric": "people_passing", "line_width_m": "wide"},
        {"series": "line-3", "time": ts(1), "value": 10, "metric": "people_passing", "line_width_m": 0},
    ]
    body = push(pusher, camera, rows).json()
    assert body["accepted"] == 1 and body["rejected"] == 2
    reasons = [e["reason"] for e in body["errors"]]
    assert reasons == [
        "'line_width_m' must be a number of metres from 0.1 to 1000, got 'wide'.",
        "'line_width_m' must be a number of metres from 0.1 to 1000, got 0.",
    ]
    with scopes_disabled():
        series = Series.objects.get(key="line-1")
    assert (series.metric, series.unit, series.line_width_m) == ("people_passing", "persons/min", 6.5)
    csv_body = f"series,time,value,metric,line_width_m\nline-4,{ts(2)},12,people_passing,3.5\n"
    response = pusher.post(url(camera), csv_body, content_type="text/csv")
    assert response.json()["accepted"] == 1
    with scopes_disabled():
        assert Series.objects.get(key="line-4").line_width_m == 3.5


def test_push_rules_live_in_one_service_for_rest_and_sensorthings(tenant_a):
    """sources.push.push_ingest: which token may push where, a disabled source, who creates series."""
    from sources.push import PushRefusedError, push_ingest, push_may_create_series, push_refusal
    from sources.services import Item
    from tenants.choices import Role
    from tenants.scoping import tenant_scope

    with tenant_scope(tenant_a):
        camera, other = make_source(tenant_a, kind="counting_camera"), make_source(tenant_a, slug="other")
        vendor = member(tenant_a, Role.INTEGRATION, username="vendor")
        token, _ = api_token_issue(user=vendor, tenant=tenant_a, source_ids=[camera.pk])
        assert push_refusal(source=camera, token=token) is None
        refused = push_refusal(source=other, token=token)
        assert (refused.status, refused.code) == (403, "permission_denied")
        assert refused.message == "This token may not push to source 'other'."
        assert (
            "write to Datastream (9)"
            in push_refusal(source=other, token=token, target="write to Datastream (9)").message
        )
        assert push_may_create_series(token=token, role=Role.INTEGRATION) is False
        assert push_may_create_series(token=None, role=Role.ADMIN) is True
        assert push_may_create_series(token=None, role=Role.OPERATOR) is False
        now = timezone.now().replace(microsecond=0)
        rows = [Item(row=0, key="gate-1", time=now, value=12, metric="people_count")]
        report = push_ingest(source=camera, token=None, role=Role.ADMIN, items=rows, row_errors=[
            {"row": 1, "series": "gate-1", "reason": "Time 'x' is not ISO 8601"}
        ])  # fmt: skip
        assert (report.accepted, report.rejected) == (1, 1)
        camera.enabled = False
        camera.save(update_fields=["enabled"])
        with pytest.raises(PushRefusedError) as caught:
            push_ingest(source=camera, token=None, role=Role.ADMIN, items=rows)
        assert (caught.value.status, caught.value.message) == (409, f"Source '{camera.slug}' is disabled.")
        assert Observation.objects.filter(series__source=camera).count() == 1
