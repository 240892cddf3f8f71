"""Bounded load test on loopback: 200 dashboards and 10,000 pushed observations per second for 5 minutes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csm REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/loadtest.py [--duration 300 --dashboards 200 --rows-per-second 10000]

Creates a scratch database with the demo data (``seed_demo``), starts gunicorn (--web-workers x 8 threads)
and one Celery worker on PostgreSQL + Redis, and runs locust headless against it (bench/loadtest_locustfile.py):

- 200 dashboard users of den-haag, each with its own token, reload the area status and the areas GeoJSON
  every 15 s, as the operator dashboard does;
- push users (one per 1,000 rows/s, each a camera gateway with a token for its own source) push one batch
  of 1,000 new rows a second; the push throttle keeps its production setting (600/min per account).

Prints requests, failures and error rate, the latency of the status endpoint (p50/p95/p99), and the pushed
rows per second that were actually stored (counted in the database). The targets: error rate below 0.1 %,
status p95 below 200 ms, 10,000 rows/s. Use --duration 60 for a smoke run.
"""

import argparse
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_REDIS_DB = 13
if os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = re.sub(r"/\d+$", "", os.environ["REDIS_URL"].rstrip("/")) + f"/{BENCH_REDIS_DB}"

from _django import ROOT, require_postgres, scratch_database  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

TENANT = "den-haag"
ROWS_PER_PUSHER = 1000  # one batch a second per push user
SERIES_PER_PUSH = 50


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def populate(dashboards: int, pushers: int, duration: float) -> dict:
    """Demo data, a token per dashboard user, a camera source and gateway account per push user."""
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    from sources.models import Series
    from tenants.choices import Role
    from tenants.models import Membership, Tenant
    from tenants.scoping import tenant_scope
    from tenants.services import api_token_issue
    from tests.factories import UserFactory, make_source

    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", force=True, stdout=quiet)
    with scopes_disabled():
        tenant = Tenant.objects.get(slug=TENANT)
        operator = Membership.objects.get(tenant=tenant, role=Role.OPERATOR).user
    dashboard_tokens = [
        api_token_issue(user=operator, tenant=tenant, name=f"dashboard {n}")[1] for n in range(dashboards)
    ]
    push = []
    for n in range(pushers):
        source = make_source(tenant, slug=f"load-gateway-{n}", config={"default_metric": "people_count"})
        with tenant_scope(tenant):
            Series.objects.bulk_create(
                Series(tenant=tenant, source=source, key=f"cam-{k}", metric="people_count")
                for k in range(SERIES_PER_PUSH)
            )
        gateway = UserFactory(username=f"load-gateway-{n}")
        Membership.objects.with_scopes_disabled().create(tenant=tenant, user=gateway, role=Role.INTEGRATION)
        token = api_token_issue(user=gateway, tenant=tenant, source_ids=[source.pk])[1]
        push.append({"token": token, "tenant": TENANT, "source": source.pk})
    steps = ROWS_PER_PUSHER // SERIES_PER_PUSH
    first = datetime.now(UTC) - timedelta(seconds=duration * steps * 1.5 + 600)  # never in the future
    return {
        "tenant": TENANT,
        "dashboard_users": dashboards,
        "dashboard_tokens": dashboard_tokens,
        "refresh_seconds": 15,
        "pushers": push,
        "push_interval": 1,
        "batch_rows": ROWS_PER_PUSHER,
        "series_per_push": SERIES_PER_PUSH,
        "first_time": first.isoformat(),
    }


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("gunicorn exited; see its log")
        try:
            httpx.get(f"{url}/healthz", timeout=5)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    sys.exit("gunicorn did not answer in time")


def stored_rows(sources: list[int]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sources_observation o JOIN sources_series s ON s.id = o.series_id "
            "WHERE s.source_id = ANY(%s)",
            [sources],
        )
        return cursor.fetchone()[0]


def server_times(path: Path, suffix: str) -> tuple[float, float] | None:
    """p50 and p95 in ms of the requests whose path ends with ``suffix``, from the gunicorn access log."""
    if not path.exists():
        return None
    times = sorted(
        float(parts[2]) * 1000
        for parts in (line.split() for line in path.read_text().splitlines())
        if len(parts) == 3 and parts[0].endswith(suffix)
    )
    if not times:
        return None
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.95))]


def read_stats(path: Path) -> dict[str, dict]:
    with path.open() as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=300, help="seconds of load (default 300)")
    parser.add_argument("--dashboards", type=int, default=200)
    parser.add_argument("--rows-per-second", type=int, default=10_000)
    parser.add_argument(
        "--web-workers", type=int, default=3, help="gunicorn worker processes of the dashboard pool"
    )
    parser.add_argument("--web-threads", type=int, default=2, help="threads per dashboard worker process")
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=2,
        help="gunicorn worker processes (4 threads each) of a separate pool for pushes; 0: one pool for all",
    )
    args = parser.parse_args()
    require_postgres()
    if not settings.REDIS_URL:
        sys.exit("This load test needs REDIS_URL (the production cache and broker).")
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    pushers = max(1, args.rows_per_second // ROWS_PER_PUSHER)
    work = Path(tempfile.mkdtemp(prefix="csm-loadtest-"))
    with scratch_database() as name:
        print(
            f"setting up demo data, {args.dashboards} dashboard tokens and {pushers} gateways ...", flush=True
        )
        config = populate(args.dashboards, pushers, args.duration)
        redis.Redis.from_url(settings.REDIS_URL).flushdb()  # the demo's model training would compete for CPU
        (work / "config.json").write_text(json.dumps(config))
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}",
            "REDIS_URL": settings.REDIS_URL,
            "SECRET_KEY": settings.SECRET_KEY,
            "LOG_LEVEL": "WARNING",
            "CSM_LOADTEST_CONFIG": str(work / "config.json"),
        }
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        ingest_port = free_port() if args.ingest_workers else port
        config["push_host"] = f"http://127.0.0.1:{ingest_port}"
        (work / "config.json").write_text(json.dumps(config))
        processes = []

        def gunicorn(bind_port: int, workers: int, threads: int, log, *extra: str) -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{bind_port}",
                 "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
                 "--preload", "--timeout", "60", "--backlog", "2048", "--no-control-socket", *extra],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        with (
            (work / "web.log").open("w") as web_log,
            (work / "ingest.log").open("w") as ingest_log,
            (work / "worker.log").open("w") as worker_log,
        ):
            # The access log gives the server's own time per request (%(L)s), next to what locust measured.
            access_log = work / "access.log"
            web = gunicorn(
                port, args.web_workers, args.web_threads, web_log,
                "--access-logfile", str(access_log), "--access-logformat", "%(U)s %(s)s %(L)s",
            )  # fmt: skip
            processes.append(web)
            if args.ingest_workers:
                ingest = gunicorn(ingest_port, args.ingest_workers, 4, ingest_log)
                processes.append(ingest)
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "1",
                 "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            processes.append(worker)
        try:
            wait_until_serving(url, web)
            if args.ingest_workers:
                wait_until_serving(config["push_host"], ingest)
            users = args.dashboards + pushers
            print(
                f"locust: {args.dashboards} dashboards + {pushers} push users for {args.duration} s ...",
                flush=True,
            )
            started = time.monotonic()
            locust = subprocess.run(
                ["nice", "-n", "-5", sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "loadtest_locustfile.py"), "--headless",
                 "-u", str(users), "-r", str(max(20, users // 10)), "-t", f"{args.duration}s", "--host", url,
                 "--csv", str(work / "locust"), "--only-summary", "--stop-timeout", "20", "--loglevel", "WARNING"],
                cwd=ROOT, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            elapsed = time.monotonic() - started  # locust's start-up and stop included
            stored = stored_rows([p["source"] for p in config["pushers"]])
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    stats_file = work / "locust_stats.csv"
    if not stats_file.exists():
        print(locust.stdout[-3000:], locust.stderr[-3000:])
        sys.exit("locust wrote no statistics")
    stats = read_stats(stats_file)
    total = stats["Aggregated"]
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    status = stats["status"]
    print(f"{args.dashboards} dashboards (status + areas GeoJSON every 15 s), {pushers} push users x "
          f"{ROWS_PER_PUSHER} rows/s, {args.duration} s, gunicorn {args.web_workers} x {args.web_threads} threads "
          f"+ ingest pool {args.ingest_workers} x 4 threads, 1 Celery worker")  # fmt: skip
    print(f"  requests                {requests}")
    print(f"  failures                {failures}")
    print(f"  error rate              {100 * failures / max(requests, 1):.3f} %  (target < 0.1 %)")
    print(
        f"  status p50 / p95 / p99  {status['50%']} / {status['95%']} / {status['99%']} ms  "
        f"({status['Request Count']} requests; target p95 < 200 ms)"
    )
    server = server_times(work / "access.log", "/areas/status/")
    if server:
        print(
            f"  status in the server    p50 {server[0]:.0f} / p95 {server[1]:.0f} ms  (gunicorn's own time, without "
            "waiting for a free worker thread)"
        )
    for name in ("areas.geojson", "push"):
        if name in stats:
            row = stats[name]
            print(f"  {name:<23} p50 {row['50%']} ms, p95 {row['95%']} ms, {row['Request Count']} requests, "
                  f"{row['Failure Count']} failures")  # fmt: skip
    print(
        f"  rows stored per second  {stored / args.duration:,.0f}  ({stored:,} rows in {args.duration} s of load, "
        f"{elapsed:.0f} s with start and stop; target 10,000)"
    )
    failures_file = work / "locust_failures.csv"
    if failures and failures_file.exists():
        print("  failures by kind:")
        with failures_file.open() as handle:
            for row in list(csv.DictReader(handle))[:10]:
                print(f"    {row['Occurrences']} x {row['Method']} {row['Name']}: {row['Error'][:150]}")
    print(f"  logs and locust CSV in  {work}")


if __name__ == "__main__":
    main()
