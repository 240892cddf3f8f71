"""Shared national feed: 300 tenants, one NDW source each, on one trafficspeed.xml.gz of national size.

    .venv/bin/python bench/shared_feed.py [--tenants 300 --sites-per-tenant 20 --sites 19600 --minutes 3]

A synthetic ``trafficspeed.xml.gz`` in the real DATEX II v2 format is generated first: the 62 real site blocks
of the MIT sample (tests/sources/fixtures/ndw_traffic's source, /work/shared/samples) repeated with new site
ids and varied flows until it holds ``--sites`` sites (NDW's file has about 19,600). A local HTTP server
serves it and counts the downloads. Every tenant gets one ndw_traffic source (60 s interval, due times spread
at random over the first minute, as sources created at different moments are) with its own random sites.
The dispatcher runs every 2 s as beat runs it, with Celery eager (the fetches run in this process).

It prints the downloads per minute (the target is 1: one download per feed per interval, however many
tenants), and, side by side in the same run, the parse CPU of the shared path (one parse of the file for the
union of every tenant's sites, plus each source's share of it) against one single tenant's parse of the same
file (its own sites only, as every source parsed it before): target at most 1.2x. The database work (storing
the readings) is not parse CPU and is left out of both. Runs on the embedded SQLite database by default.
"""

import argparse
import gzip
import os
import random
import re
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("EGRESS_ALLOW_NETWORKS", "127.0.0.0/8")  # the local feed server
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per eager task

from _django import ROOT, scratch_database

SAMPLE = Path(os.environ.get("NDW_SAMPLE", "/work/shared/samples/ndw_trafficspeed_2025-08-15_truncated.xml"))
BLOCK = re.compile(r"<siteMeasurements\b.*?</siteMeasurements>", re.DOTALL)
SITE_ID = re.compile(r'(<measurementSiteReference id=")([^"]+)(")')
FLOW = re.compile(r"(<vehicleFlowRate>)(\d+)(</vehicleFlowRate>)")


def national_file(sites: int, seed: int = 7) -> tuple[bytes, list[str]]:
    """A gzipped trafficspeed file with ``sites`` site blocks made from the real ones, and their ids."""
    text = SAMPLE.read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    head, tail = text[: text.index("<siteMeasurements")], text[text.rindex("</siteMeasurements>") + 19 :]
    rng = random.Random(seed)
    out, ids = [], []
    for n in range(sites):
        block = blocks[n % len(blocks)]
        site = f"{SITE_ID.search(block).group(2)}_B{n // len(blocks):03d}"
        ids.append(site)
        block = SITE_ID.sub(lambda m, s=site: m.group(1) + s + m.group(3), block, count=1)
        out.append(
            FLOW.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + 60 * rng.randint(0, 3)}{m.group(3)}", block)
        )
    return gzip.compress((head + "".join(out) + tail).encode("utf-8"), compresslevel=6, mtime=0), ids


def feed_server(body: bytes):
    downloads: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            downloads.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Type", "application/x-gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, downloads


class ParseClock:
    """Process CPU spent in the connector's parsing, split into the shared parse and the per-source parts."""

    def __init__(self, cls):
        self.shared: list[float] = []
        self.parts = 0.0
        original_shared, original_parse = cls.parse_shared.__func__, cls.parse
        clock = self

        def parse_shared(klass, role, payload, items):
            start = time.process_time()
            try:
                return original_shared(klass, role, payload, items)
            finally:
                clock.shared.append(time.process_time() - start)

        def parse(connector, payload):
            start = time.process_time()
            try:
                return original_parse(connector, payload)
            finally:
                if "shared" in payload.meta:
                    clock.parts += time.process_time() - start

        cls.parse_shared = classmethod(parse_shared)
        cls.parse = parse


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=300)
    parser.add_argument("--sites-per-tenant", type=int, default=20)
    parser.add_argument("--sites", type=int, default=19_600)
    parser.add_argument("--minutes", type=float, default=3)
    args = parser.parse_args()

    started = time.monotonic()
    body, site_ids = national_file(args.sites)
    print(f"synthetic trafficspeed.xml.gz: {args.sites} sites, {len(body) / 1e6:.1f} MB gzipped "
          f"({time.monotonic() - started:.1f} s to make)")  # fmt: skip
    server, downloads = feed_server(body)
    url = f"http://127.0.0.1:{server.server_port}/trafficspeed.xml.gz"

    from config.celery import app

    app.conf.task_always_eager = True
    with scratch_database():
        from django_scopes import scopes_disabled

        from sources.connectors.base import ConnectorContext, Payload
        from sources.connectors.ndw_traffic import NdwTrafficConnector
        from sources.models import Observation, Source
        from sources.tasks import dispatch_due_sources
        from tenants.models import Tenant

        rng = random.Random(11)
        start = datetime.now(UTC) + timedelta(seconds=5)
        start_clock = time.monotonic() + 5  # the same moment on the monotonic clock of the downloads
        configs = []
        for n in range(args.tenants):
            tenant = Tenant.objects.create(slug=f"gemeente-{n}", name=f"Gemeente {n}")
            config = {"url": url, "sites": rng.sample(site_ids, args.sites_per_tenant), "site_table_url": ""}
            configs.append(config)
            Source.objects.with_scopes_disabled().create(
                tenant=tenant, slug="ndw", name="NDW", kind="ndw_traffic", config=config, poll_interval=60,
                next_due_at=start + timedelta(seconds=rng.uniform(0, 60)),
            )  # fmt: skip
        union = len({site for config in configs for site in config["sites"]})
        clock = ParseClock(NdwTrafficConnector)
        single: list[float] = []
        single_connector = NdwTrafficConnector(
            config=configs[0],
            context=ConnectorContext(tenant_slug="gemeente-0", time_zone="Europe/Amsterdam"),
        )
        print(f"{args.tenants} tenants x 1 source x {args.sites_per_tenant} sites ({union} distinct); "
              f"dispatcher every 2 s for {args.minutes:g} min")  # fmt: skip

        end = start + timedelta(minutes=args.minutes)
        measured_downloads = 0
        while datetime.now(UTC) < end:
            dispatch_due_sources.apply()
            while measured_downloads < len(clock.shared):
                # Side by side: one tenant parsing the same file on its own, right after each shared parse.
                measured_downloads += 1
                tick = time.process_time()
                single_connector.parse(Payload(body=body, url=url))
                single.append(time.process_time() - tick)
            time.sleep(2)
        server.shutdown()

        # Minutes from the moment the first sources fall due (their due times are spread over minute one).
        per_minute = [0] * max(1, round(args.minutes))
        for moment in downloads:
            per_minute[min(len(per_minute) - 1, max(0, int((moment - start_clock) // 60)))] += 1
        with scopes_disabled():
            stored = Observation.objects.count()
            fetched = Source.objects.filter(last_success_at__isnull=False).count()
        shared_total = sum(clock.shared) + clock.parts
        print(f"  downloads of the national file     {len(downloads)} in {args.minutes:g} min; per minute: "
              f"{', '.join(map(str, per_minute))}")  # fmt: skip
        print(
            f"  sources fetched                    {fetched} of {args.tenants}; observations stored {stored}"
        )
        print(f"  shared parse CPU per download      {statistics.mean(clock.shared):.2f} s (union of {union} sites)"
              f" + {clock.parts / max(1, len(clock.shared)):.3f} s for the {args.tenants} sources' parts")  # fmt: skip
        print(f"  single tenant's parse CPU          {statistics.mean(single):.2f} s ({args.sites_per_tenant} "
              "sites, the same file, side by side)")  # fmt: skip
        ratio = (shared_total / len(clock.shared)) / statistics.mean(single)
        parse_only = statistics.mean(clock.shared) / statistics.mean(single)
        print(f"  shared / single                    {ratio:.2f}x with the sources' parts, {parse_only:.2f}x the "
              "file's parse alone (target at most 1.2x)")  # fmt: skip
        print(f"  unshared, every source parsing     {args.tenants * statistics.mean(single):.0f} s CPU a minute "
              f"(and {args.tenants} downloads a minute)")  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
