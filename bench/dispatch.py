"""Dispatch fairness and lag: 5,000 sources of 200 tenants on 60 s intervals, 2 worker processes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/csm REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/dispatch.py [--sources 5000 --tenants 200 --minutes 4]

Tenants are deliberately unequal (one with 500 sources, ten with 100, the rest about 18). Every source
polls a local mock server. The dispatcher runs every 2 s, as beat runs it in production; one Celery
worker with two pool processes does the fetching. The lag of a fetch is the time from its due time to
its start, read from the worker's log. Fetches due in the first 30 s (warm-up) are left out.
"""

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BENCH_REDIS_DB = 14
if os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = re.sub(r"/\d+$", "", os.environ["REDIS_URL"].rstrip("/")) + f"/{BENCH_REDIS_DB}"

from _django import ROOT, require_postgres, scratch_database  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

LINE = re.compile(r"fetch start source=(\d+) tenant=(\d+) due=(\S+) lag=(-?[\d.]+) try=0")


def tenant_sizes(sources: int, tenants: int) -> list[int]:
    sizes = [500] + [100] * 10
    rest, others = sources - sum(sizes), tenants - len(sizes)
    sizes += [rest // others + (1 if i < rest % others else 0) for i in range(others)]
    return sizes


def mock_server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            body = json.dumps({"data": [{"id": "gate", "t": now.isoformat(), "v": 1}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def populate(sizes: list[int], url: str, start: datetime) -> dict[int, int]:
    from sources.models import Source
    from tenants.models import Tenant

    rng = random.Random(7)
    size_of = {}
    config = {"items": "data", "key": "id", "time": "t", "value": "v", "metric": "visitor_estimate"}
    for index, size in enumerate(sizes):
        tenant = Tenant.objects.create(slug=f"tenant-{index}", name=f"Tenant {index}")
        size_of[tenant.pk] = size
        Source.objects.with_scopes_disabled().bulk_create(
            [
                Source(
                    tenant=tenant,
                    slug=f"s-{n}",
                    name=f"Source {n}",
                    kind="generic_json",
                    config={"url": f"{url}/t{index}/s{n}", **config},
                    poll_interval=60,
                    next_due_at=start + timedelta(seconds=rng.uniform(0, 60)),
                )
                for n in range(size)
            ]
        )
    return size_of


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", type=int, default=5000)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=4)
    args = parser.parse_args()
    require_postgres()
    if not settings.REDIS_URL:
        print("This benchmark needs REDIS_URL (the production broker).")
        sys.exit(2)
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    server = mock_server()
    url = f"http://127.0.0.1:{server.server_port}"
    with scratch_database() as name:
        from sources.tasks import dispatch_due_sources

        start = datetime.now(UTC) + timedelta(seconds=20)
        size_of = populate(tenant_sizes(args.sources, args.tenants), url, start)
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}",
            "REDIS_URL": settings.REDIS_URL,
            "LOG_LEVEL": "WARNING",
        }
        log_path = Path("/tmp") / f"csm-bench-dispatch-{os.getpid()}.log"
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "2",
                 "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                end = start + timedelta(minutes=args.minutes)
                while datetime.now(UTC) < end:
                    dispatch_due_sources.apply()
                    time.sleep(2)
                time.sleep(20)  # let the last fetches start
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(60)
        by_tenant = defaultdict(list)
        for line in log_path.read_text().splitlines():
            match = LINE.search(line)
            if match and start + timedelta(seconds=30) <= datetime.fromisoformat(match[3]) <= end:
                by_tenant[int(match[2])].append(float(match[4]))
        server.shutdown()
    measured = [lag for tenant_lags in by_tenant.values() for lag in tenant_lags]
    p99 = percentile(measured, 99)
    within = sum(1 for lag in measured if lag <= 10) / len(measured)
    tenant_p99 = {t: percentile(v, 99) for t, v in by_tenant.items() if v}
    worst_tenant, worst = max(tenant_p99.items(), key=lambda kv: kv[1])
    big = next(t for t, s in size_of.items() if s == 500)
    small = [t for t, s in size_of.items() if s < 30]
    print(f"{len(size_of)} tenants, {sum(size_of.values())} sources, 60 s interval, {args.minutes:g} min, "
          f"1 worker x 2 processes, dispatcher every 2 s")  # fmt: skip
    print(f"  fetches measured        {len(measured)}")
    print(
        f"  lag p50 / p99 / max     {statistics.median(measured):.2f} s / {p99:.2f} s / {max(measured):.2f} s"
    )
    print(f"  started within 10 s     {100 * within:.2f} %")
    print(
        f"  worst tenant p99        {worst:.2f} s ({worst / p99:.2f} x overall p99; tenant with {size_of[worst_tenant]} sources)"
    )
    print(f"  500-source tenant p99   {tenant_p99[big]:.2f} s; small tenants' p99 median "
          f"{statistics.median(tenant_p99[t] for t in small if t in tenant_p99):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
