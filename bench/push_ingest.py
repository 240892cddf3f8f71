"""Push ingestion throughput against a raw COPY of the same rows into the same table, side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csm .venv/bin/python bench/push_ingest.py [--rows 200000]

"push (service)" is everything the push endpoint does after reading the body: JSON parsing, per-row
validation, series look-up, the idempotent insert and the latest-value update. "push (HTTP)" goes
through the whole Django stack in-process (authentication, tenant check, throttling). "COPY" is
psycopg's COPY FROM STDIN of ready-made tuples. Rounds alternate so both see the same conditions.
"""

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from _django import require_postgres, scratch_database
from django.db import connection
from django.test import Client

from sources.models import Observation, Series
from sources.push import parse_json
from sources.services import ingest
from tenants.scoping import tenant_scope

CHUNK = 10_000


def setup(series_count: int):
    from tenants.choices import Role
    from tenants.models import Membership
    from tenants.services import api_token_issue
    from tests.factories import TenantFactory, UserFactory, make_source

    tenant = TenantFactory(slug="bench")
    source = make_source(tenant, slug="cameras")
    user = UserFactory(username="bench-integration")
    Membership.objects.with_scopes_disabled().create(tenant=tenant, user=user, role=Role.INTEGRATION)
    with tenant_scope(tenant):
        for i in range(series_count):
            Series.objects.create(
                tenant=tenant, source=source, key=f"cam-{i}", metric="people_count", unit="persons"
            )
        series_ids = dict(Series.objects.filter(source=source).values_list("key", "pk"))
    token = api_token_issue(user=user, tenant=tenant)[1]
    return tenant, source, series_ids, token


def make_rows(series_ids: dict, rows: int):
    start = datetime(2026, 7, 1, tzinfo=UTC)
    keys = list(series_ids)
    per_series = rows // len(keys)
    records = [
        {"series": key, "time": (start + timedelta(minutes=5 * t)).isoformat(), "value": (t * 7 + i) % 900}
        for t in range(per_series)
        for i, key in enumerate(keys)
    ]
    bodies = [json.dumps(records[i : i + CHUNK]).encode() for i in range(0, len(records), CHUNK)]
    tuples = [
        (series_ids[r["series"]], datetime.fromisoformat(r["time"]), float(r["value"])) for r in records
    ]
    return records, bodies, tuples


def reset():
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Observation._meta.db_table}")
        cursor.execute(f"UPDATE {Series._meta.db_table} SET latest_time = NULL, latest_value = NULL")  # noqa: S608
        cursor.execute("VACUUM ANALYZE")


def run_service(tenant, source, bodies) -> float:
    started = time.perf_counter()
    with tenant_scope(tenant):
        for body in bodies:
            items, errors = parse_json(body, max_rows=CHUNK)
            report = ingest(source=source, items=items, may_create_series=False)
            assert not errors and report.rejected == 0, report.errors[:3]
    return time.perf_counter() - started


def run_http(tenant, source, bodies, token) -> float:
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    url = f"/api/v1/tenants/{tenant.slug}/sources/{source.pk}/observations/"
    started = time.perf_counter()
    for body in bodies:
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
    return time.perf_counter() - started


def run_copy(tenant, tuples) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor
        with raw.copy(
            f"COPY {Observation._meta.db_table} (tenant_id, series_id, time, value) FROM STDIN"
        ) as copy:
            for series_id, when, value in tuples:
                copy.write_row((tenant.pk, series_id, when, value))
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    require_postgres()
    from django.conf import settings

    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["push"] = "100000/min"
    with scratch_database():
        tenant, source, series_ids, token = setup(args.series)
        records, bodies, tuples = make_rows(series_ids, args.rows)
        n = len(records)
        results = {"push (service)": [], "push (HTTP)": [], "COPY": []}
        for _ in range(args.rounds):
            for name, run in (
                ("COPY", lambda: run_copy(tenant, tuples)),
                ("push (service)", lambda: run_service(tenant, source, bodies)),
                ("push (HTTP)", lambda: run_http(tenant, source, bodies, token)),
            ):
                reset()
                results[name].append(run())
                assert Observation.objects.with_scopes_disabled().count() == n
        print(
            f"{n} observations, {args.series} series, {len(bodies)} requests of {CHUNK} rows, "
            f"median of {args.rounds} rounds"
        )
        copy_rate = n / statistics.median(results["COPY"])
        for name, seconds in results.items():
            rate = n / statistics.median(seconds)
            print(f"  {name:<16} {rate:>10,.0f} observations/s   {100 * rate / copy_rate:5.1f} % of COPY")


if __name__ == "__main__":
    main()
