"""Area status time with a small and a large observation history, measured in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csm .venv/bin/python bench/status.py [--total 10000000]

100 areas, each with a counting camera. First the database holds 10,000 observations (the last 8 hours
at 5-minute steps); the status endpoint is timed (HTTP, in-process, median of 30 calls). Then years of
older history are COPied in until the database holds --total observations, the planner statistics are
refreshed, and the same endpoint is timed again. The ratio is the figure: the status must not scan
history.
"""

import argparse
import statistics
import time
from datetime import timedelta

from _django import require_postgres, scratch_database
from django.db import connection
from django.test import Client

AREAS = 100
STEP = timedelta(minutes=5)


def setup():
    from areas.geometry import measure
    from areas.models import Area
    from sources.models import Series
    from tenants.choices import Role
    from tenants.models import Membership
    from tenants.scoping import tenant_scope
    from tests.factories import TenantFactory, UserFactory, make_source, square

    tenant = TenantFactory(slug="bench")
    user = UserFactory(username="bench-operator")
    Membership.objects.with_scopes_disabled().create(tenant=tenant, user=user, role=Role.OPERATOR)
    source = make_source(tenant, slug="cams")
    with tenant_scope(tenant):
        for i in range(AREAS):
            measured = measure(square(4.20 + (i % 10) / 100, 52.05 + (i // 10) / 100, 0.001))
            area = Area.objects.create(
                tenant=tenant, slug=f"area-{i}", name=f"Area {i}", geometry=measured.geojson,
                surface_m2=measured.surface_m2, min_lon=measured.bbox[0], min_lat=measured.bbox[1],
                max_lon=measured.bbox[2], max_lat=measured.bbox[3], centroid_lon=measured.centroid[0],
                centroid_lat=measured.centroid[1], capacity=2000,
            )  # fmt: skip
            Series.objects.create(
                tenant=tenant, source=source, key=f"cam-{i}", metric="people_count", area=area
            )
        series_ids = list(Series.objects.filter(source=source).order_by("pk").values_list("pk", flat=True))
    return tenant, user, series_ids


def copy_rows(tenant_id, series_ids, start, end):
    """COPY observations at 5-minute steps in [start, end) for every series; returns how many."""
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy("COPY sources_observation (tenant_id, series_id, time, value) FROM STDIN") as copy,
    ):
        moment = start
        while moment < end:
            for i, series_id in enumerate(series_ids):
                copy.write_row(
                    (tenant_id, series_id, moment, float((i * 7 + int(moment.timestamp()) // 300) % 1500))
                )
                count += 1
            moment += STEP
    return count


def set_latest(series_ids, now):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sources_series s SET latest_time = o.time, latest_value = o.value FROM sources_observation o "
            "WHERE o.series_id = s.id AND o.time = %s",
            [now - STEP],
        )


def settle():
    """After a bulk load PostgreSQL vacuums, analyses and checkpoints in the background, taking the CPU the
    measurement needs on a small machine: do that work now, and wait until no autovacuum runs."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) sources_observation")
        cursor.execute("CHECKPOINT")
        for _ in range(120):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'autovacuum:%%'")
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(1)


def time_status(client, url, calls=30) -> float:
    client.get(url)  # warm caches
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200 and len(response.json()["areas"]) == AREAS
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--total", type=int, default=10_000_000)
    args = parser.parse_args()
    require_postgres()
    with scratch_database():
        from django.utils import timezone

        now = timezone.now().replace(second=0, microsecond=0)
        now -= timedelta(minutes=now.minute % 5)
        tenant, user, series_ids = setup()
        recent_start = now - STEP * (10_000 // AREAS)
        small = copy_rows(tenant.pk, series_ids, recent_start, now)
        set_latest(series_ids, now)
        settle()
        client = Client()
        client.force_login(user)
        url = f"/api/v1/tenants/{tenant.slug}/areas/status/"
        small_time = time_status(client, url)
        steps = (args.total - small) // AREAS
        loaded = copy_rows(tenant.pk, series_ids, recent_start - STEP * steps, recent_start)
        set_latest(series_ids, now)
        settle()
        big_time = time_status(client, url)
        total = small + loaded
        print(f"status of {AREAS} areas, median of 30 requests (HTTP, in-process)")
        print(f"  {small:>11,} observations   {1000 * small_time:7.2f} ms")
        print(f"  {total:>11,} observations   {1000 * big_time:7.2f} ms")
        print(f"  ratio                       {big_time / small_time:7.2f}  (target <= 1.25)")


if __name__ == "__main__":
    main()
