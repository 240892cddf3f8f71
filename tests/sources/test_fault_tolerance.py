"""Fault tolerance against the real stack: a worker killed mid-fetch loses and duplicates nothing.

These tests start real Celery worker processes on the configured broker, sharing the test database, so
they need PostgreSQL and Redis (CI sets DATABASE_URL and REDIS_URL); the in-memory SQLite test database
cannot be shared with another process.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.models import Observation, Source
from sources.tasks import fetch_source_task
from tests.factories import make_source

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): worker processes share the test database",
    ),
]
ROOT = Path(__file__).resolve().parents[2]
RECORDS = 50


class SlowFirstFeed:
    """A local feed whose first request hangs until released, so a worker can be killed mid-fetch."""

    def __init__(self):
        now = timezone.now().replace(second=0, microsecond=0)
        self.body = json.dumps(
            {
                "data": [
                    {"id": f"gate-{i}", "t": (now - timedelta(minutes=1)).isoformat(), "v": i}
                    for i in range(RECORDS)
                ]
            }
        ).encode()
        self.requests = 0
        self.first_request = threading.Event()
        self.release = threading.Event()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                feed.requests += 1
                if feed.requests == 1:
                    feed.first_request.set()
                    feed.release.wait(60)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(feed.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the worker that asked may be gone
                    self.wfile.write(feed.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/counts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def start_worker(queue: str, tmp_path, **env) -> subprocess.Popen:
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    environment = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": settings.REDIS_URL,
                   "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", **env}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "1",
         "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel", "INFO",
         "--hostname", f"{queue}-{uuid.uuid4().hex[:6]}@%h"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def stop(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)
    if not worker.stdout:
        return ""
    with worker.stdout:
        return worker.stdout.read()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def completed(source, due) -> bool:
    with scopes_disabled():
        return Source.objects.get(pk=source.pk).last_completed_due_at == due


GENERIC = {"items": "data", "key": "id", "time": "t", "value": "v", "metric": "people_count"}


@pytest.mark.django_db(transaction=True)
def test_pool_process_killed_mid_fetch_is_retried_and_nothing_is_stored_twice(tenant_a, tmp_path):
    feed = SlowFirstFeed()
    queue = f"fault-{uuid.uuid4().hex[:8]}"
    source = make_source(tenant_a, kind="generic_json", config={"url": feed.url, **GENERIC})
    due = timezone.now().replace(microsecond=0)
    worker = start_worker(queue, tmp_path)
    log = ""
    try:
        fetch_source_task.apply_async(args=[tenant_a.pk, source.pk, due.isoformat()], queue=queue)
        assert feed.first_request.wait(60), "the worker never started the fetch"
        pool = children(worker.pid)
        assert pool, "no pool process found"
        os.kill(pool[0], signal.SIGKILL)  # the process running the fetch dies mid-request
        wait_for(lambda: completed(source, due), 60, "the redelivered fetch to complete")
    finally:
        feed.close()
        log = stop(worker)
    with scopes_disabled():
        assert Observation.objects.filter(series__source=source).count() == RECORDS, log[-3000:]
        assert Source.objects.get(pk=source.pk).consecutive_failures == 0
    assert feed.requests == 2  # the killed attempt and the redelivery
    assert "WorkerLostError" in log or "exited with 'signal 9" in log, log[-3000:]


@pytest.mark.django_db(transaction=True)
def test_whole_worker_killed_mid_fetch_is_redelivered_to_another_worker(tenant_a, tmp_path):
    feed = SlowFirstFeed()
    queue = f"fault-{uuid.uuid4().hex[:8]}"
    source = make_source(tenant_a, kind="generic_json", config={"url": feed.url, **GENERIC})
    due = timezone.now().replace(microsecond=0)
    # A short visibility timeout stands in for the production hour, so the test need not wait that long.
    fast = {"CELERY_VISIBILITY_TIMEOUT": "5", "CELERY_UNACKED_RESTORE_SECONDS": "1"}
    first = start_worker(queue, tmp_path, **fast)
    second = None
    try:
        fetch_source_task.apply_async(args=[tenant_a.pk, source.pk, due.isoformat()], queue=queue)
        assert feed.first_request.wait(60), "the worker never started the fetch"
        for pid in [*children(first.pid), first.pid]:
            os.kill(pid, signal.SIGKILL)  # power cut: no warm shutdown, no requeue by the dying worker
        first.wait(10)
        feed.release.set()
        second = start_worker(queue, tmp_path, **fast)
        wait_for(lambda: completed(source, due), 90, "the message to be redelivered and fetched")
    finally:
        feed.close()
        stop(first)
        log = stop(second) if second else ""
    with scopes_disabled():
        assert Observation.objects.filter(series__source=source).count() == RECORDS, log[-3000:]
