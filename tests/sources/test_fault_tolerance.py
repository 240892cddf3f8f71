"""Fault tolerance against the real stack, with real processes (web, workers, beat, Redis, PostgreSQL).

- a worker (pool process or the whole worker) killed mid-fetch: the fetch is retried, nothing is stored twice;
- Redis restarted during pushes: every push is stored or answered with a retryable error, nothing accepted
  is missing or doubled, no 500;
- PostgreSQL restarted: web and worker carry on without being restarted;
- two beat processes by mistake: every (source, due time) is fetched once.

These tests start real Celery workers and gunicorn on the test database, so they need PostgreSQL and Redis
(CI sets DATABASE_URL and REDIS_URL); the in-memory SQLite test database cannot be shared with another
process. Redis and PostgreSQL are restarted as private instances of our own on free ports, never the shared
ones.
"""

import collections
import contextlib
import glob
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from sources.dispatch import claim_due_sources
from sources.models import Observation, Source
from sources.tasks import enqueue_fetches, fetch_source_task
from tenants.choices import Role
from tenants.services import api_token_issue
from tests.factories import make_source, member

pytestmark = [
    pytest.mark.worker,
    pytest.mark.slow,
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


def shared_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(tmp_path, **env) -> dict:
    """The environment of a web, worker or beat process: the test database and broker unless overridden."""
    return {**os.environ, "DATABASE_URL": shared_database_url(), "REDIS_URL": settings.REDIS_URL,
            "SECRET_KEY": settings.SECRET_KEY, "VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings", **env}  # fmt: skip


def spawn(command: list[str], *, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
    """Start a process whose output goes to ``log`` (appended) or, without one, to a pipe read by :func:`stop`."""
    if log is None:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    with log.open("a") as output:  # the child keeps its own descriptor
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def start_worker(queue: str, tmp_path, *, concurrency: int = 1, log: Path | None = None, **env):
    """A Celery worker on ``queue``."""
    return spawn(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
         "--concurrency", str(concurrency), "-Q", queue, "--without-gossip", "--without-mingle",
         "--loglevel", "INFO", "--hostname", f"{queue}-{uuid.uuid4().hex[:6]}@%h"],
        env=process_env(tmp_path, **env), log=log,
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
    # An operator's short visibility timeout (the production hour is tested below): the message itself
    # comes back. Tasks must stay below it, hence the time limit.
    fast = {
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "CELERY_UNACKED_RESTORE_SECONDS": "1",
        "CELERY_TASK_TIME_LIMIT": "4",
    }
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


def unacked_fetches(queue: str) -> list[dict]:
    """The fetch messages of ``queue`` that Redis holds as delivered but not acknowledged."""
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        entries = [json.loads(raw) for raw in client.hvals("unacked")]
    return [
        message
        for message, _exchange, routing_key in entries
        if routing_key == queue and message.get("headers", {}).get("task") == "sources.tasks.fetch_source"
    ]


@pytest.mark.django_db(transaction=True)
def test_with_production_settings_a_worker_killed_mid_fetch_is_made_good_by_the_next_due_time(
    tenant_a, tmp_path
):
    """The production visibility timeout (an hour): the killed fetch's message is not handed out again
    while it could still matter. The source is fetched again at its next due time, one interval later,
    by another worker; nothing is stored twice; the old message has expired before Redis would redeliver
    it, so it can never run a fetch for its stale due time."""
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 3600  # the production value
    feed = SlowFirstFeed()
    queue = f"fault-{uuid.uuid4().hex[:8]}"
    interval = 10
    source = make_source(
        tenant_a, kind="generic_json", config={"url": feed.url, **GENERIC}, poll_interval=interval
    )
    with scopes_disabled():
        Source.objects.filter(pk=source.pk).update(next_due_at=timezone.now().replace(microsecond=0))
    first = start_worker(queue, tmp_path)  # production settings: no overrides
    second = None
    try:
        (claim,) = claim_due_sources()
        enqueue_fetches([claim], queue=queue)
        assert feed.first_request.wait(60), "the worker never started the fetch"
        for pid in [*children(first.pid), first.pid]:
            os.kill(pid, signal.SIGKILL)  # power cut mid-fetch
        first.wait(10)
        feed.release.set()
        (stranded,) = unacked_fetches(queue)
        assert claim.due_at.isoformat() in stranded["headers"]["argsrepr"]
        expires = datetime.fromisoformat(stranded["headers"]["expires"])
        redelivery_earliest = timezone.now() + timedelta(seconds=3600 - 60)
        assert expires < redelivery_earliest, expires
        second = start_worker(queue, tmp_path)
        next_due = claim.due_at + timedelta(seconds=interval)

        def next_due_time_fetched() -> bool:
            enqueue_fetches(claim_due_sources(), queue=queue)  # what beat's dispatcher does every 2 s
            with scopes_disabled():
                return (Source.objects.get(pk=source.pk).last_completed_due_at or claim.due_at) >= next_due

        wait_for(next_due_time_fetched, interval + 90, "the next due time to be fetched")
    finally:
        feed.close()
        stop(first)
        log = stop(second) if second else ""
    with scopes_disabled():
        fetched = Source.objects.get(pk=source.pk)
        assert fetched.last_completed_due_at == next_due, log[-3000:]  # the very next due time, not later
        assert Observation.objects.filter(series__source=source).count() == RECORDS, log[-3000:]


# --- private services and the web process ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own on a free port: restarting it disturbs no other test or helper."""

    def __init__(self, log: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self):
        self.process = spawn(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            log=self.log,
        )
        wait_for(self.ping, 15, "the private Redis to start")

    def ping(self) -> bool:
        try:
            with redis.Redis(port=self.port, socket_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)


class Web:
    """gunicorn serving the app (2 workers x 4 threads), as in production; --preload imports it once."""

    def __init__(self, tmp_path, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"web-{self.port}.log"
        self.process = spawn(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "2", "--worker-class", "gthread", "--threads", "4", "--timeout", "60",
             "--graceful-timeout", "5", "--preload", "--no-control-socket"],
            env=process_env(tmp_path, LOG_LEVEL="WARNING", **env), log=self.log,
        )  # fmt: skip
        try:
            wait_for(self.answers, 60, "gunicorn to serve")
        except BaseException:
            self.stop()
            raise

    def answers(self) -> bool:
        try:
            httpx.get(f"{self.url}/healthz", timeout=5)
        except httpx.HTTPError:
            assert self.process.poll() is None, self.output()
            return False
        return True

    def output(self) -> str:
        return self.log.read_text()[-4000:]

    def tracebacks(self) -> str:
        """Every logged traceback of the run, in full (a failing test prints them: its message is cut)."""
        text = self.log.read_text()
        blocks = text.split("Traceback")[1:]
        return "\n".join("Traceback" + block[:6000] for block in blocks) or "(none logged)"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # quick shutdown: the test has no request in flight
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


needs_redis_server = pytest.mark.skipif(
    not shutil.which("redis-server"), reason="redis-server is not installed"
)


# --- Redis restarted during pushes ---------------------------------------------------------------------

PUSH_ROWS = 100
CAMERAS = 5


def push_batch(number: int, base) -> list[dict]:
    """Batch ``number``: rows no other batch has (series cam-0..4, one second apart)."""
    first = number * PUSH_ROWS
    return [
        {
            "series": f"cam-{i % CAMERAS}",
            "time": (base + timedelta(seconds=i // CAMERAS)).isoformat(),
            "value": i % 97,
            "metric": "people_count",
        }
        for i in range(first, first + PUSH_ROWS)
    ]


@needs_redis_server
@pytest.mark.django_db(transaction=True)
def test_redis_restart_during_pushes_loses_and_doubles_nothing(tenant_a, tmp_path):
    source = make_source(tenant_a, kind="counting_camera")
    camera = member(tenant_a, Role.INTEGRATION, username="camera-vendor")
    _, token = api_token_issue(user=camera, tenant=tenant_a, source_ids=[source.pk], may_create_series=True)
    private_redis = PrivateRedis(tmp_path / "redis.log")
    # The throttle stays on (its counters live in this Redis) with a rate the test does not reach.
    try:
        web = Web(tmp_path, REDIS_URL=private_redis.url, PUSH_THROTTLE_RATE="100000/min")
    except BaseException:
        private_redis.stop()
        raise
    url = f"{web.url}/api/v1/tenants/tenant-a/sources/{source.pk}/observations/"
    # Each batch covers 20 s of camera time; a day back leaves room for thousands of batches.
    base = timezone.now().replace(microsecond=0) - timedelta(days=1)
    numbers = itertools.count()
    results, failures = [], []
    outages: list[tuple[float, float]] = []
    stop_pushing = threading.Event()

    def pusher():
        with httpx.Client(headers={"Authorization": f"Token {token}"}, timeout=30) as client:
            while not stop_pushing.is_set():
                number = next(numbers)
                started = time.monotonic()
                try:
                    response = client.post(url, json=push_batch(number, base))
                except httpx.HTTPError as exc:  # the web process itself must never drop a connection
                    failures.append(f"batch {number}: {exc!r}")
                    continue
                results.append((number, started, time.monotonic(), response))

    try:
        with ThreadPoolExecutor(6) as pool:
            for _ in range(6):
                pool.submit(pusher)
            try:
                wait_for(lambda: len(results) >= 20, 60, "pushes to flow")
                for _ in range(2):
                    down = time.monotonic()
                    private_redis.stop()
                    time.sleep(2)
                    private_redis.start()
                    outages.append((down, time.monotonic()))
                    time.sleep(1.5)
            finally:
                stop_pushing.set()
    finally:
        web.stop()
        private_redis.stop()

    assert not failures, failures[:5]
    statuses = collections.Counter(r.status_code for _, _, _, r in results)
    if not set(statuses) <= {200, 429, 503}:
        print("Tracebacks of the web process:\n" + web.tracebacks())
    assert set(statuses) <= {200, 429, 503}, (
        statuses,
        [r.text[:300] for *_, r in results if r.status_code not in (200, 429, 503)][:3],
        web.output(),
    )
    for _, _, _, response in results:
        if response.status_code != 200:  # retryable: the client is told when to send the same batch again
            assert response.headers["Retry-After"]
            assert response.headers["Content-Type"].startswith("application/problem+json")
    during_outage = [n for n, started, _, _ in results if any(down <= started < up for down, up in outages)]
    assert during_outage, "no push was sent while Redis was down; the test proved nothing"
    assert "Push throttle skipped, cache unavailable" in web.output()  # served while Redis was unreachable

    accepted = {n: r.json() for n, _, _, r in results if r.status_code == 200}
    for number, report in accepted.items():
        assert (report["accepted"], report["duplicate"], report["rejected"]) == (PUSH_ROWS, 0, 0), (
            number,
            report,
        )
    expected = {(row["series"], row["time"]) for n in accepted for row in push_batch(n, base)}
    with scopes_disabled():
        stored = list(
            Observation.objects.filter(series__source=source).values_list("series__key", "time", "value")
        )
    stored_keys = [(key, moment.isoformat()) for key, moment, _ in stored]
    assert len(stored_keys) == len(set(stored_keys)) == len(expected)  # each accepted row exactly once
    assert set(stored_keys) == expected  # and nothing of a refused batch


# --- PostgreSQL restarted ------------------------------------------------------------------------------

PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary directory, trust auth, a free port)."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="csm-pg-"))
        self.port = free_port()
        self.data = self.root / "data"
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.root, "postgres", "postgres")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        try:
            self.run(
                "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
            )
            self.run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-o",
                options,
                "-w",
                "start",
            )
        except BaseException:
            self.close()
            raise
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/csm_fault"

    def run(self, program: str, *args: str):
        command = [str(Path(PG_BIN) / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{program}: {done.stdout}{done.stderr}"

    def restart(self):
        # -l again: the restarted server must not inherit our capturing pipes (run() would wait for them).
        self.run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-m", "fast", "-w", "restart"
        )

    def connect(self, dbname: str = "csm_fault"):
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def close(self):
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def copy_test_database(private: PrivatePostgres):
    """The migrated test database with what the test created, into the private cluster (pg_dump | psql)."""
    db = connection.settings_dict
    with private.connect("postgres") as conn:
        conn.execute("CREATE DATABASE csm_fault")
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
         "-U", db["USER"], db["NAME"]],
        capture_output=True, check=True, timeout=60, env={**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""},
    )  # fmt: skip
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(private.port), "-U", "postgres",
         "-d", "csm_fault"],
        input=dump.stdout, capture_output=True, check=True, timeout=60,
    )  # fmt: skip


class MovingFeed:
    """A feed of RECORDS counts at ``self.minute`` minutes ago; move it to make the next fetch store new rows."""

    def __init__(self):
        self.minute = 10
        self.requests = 0
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                feed.requests += 1
                moment = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=feed.minute)
                body = json.dumps(
                    {"data": [{"id": f"gate-{i}", "t": moment.isoformat(), "v": i} for i in range(RECORDS)]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/counts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def gunicorn_workers(web: Web) -> list[int]:
    return sorted(children(web.process.pid))


@pytest.mark.skipif(
    not PG_BIN or not shutil.which("pg_dump") or not shutil.which("psql"),
    reason="needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin) and pg_dump/psql for a private cluster",
)
@pytest.mark.django_db(transaction=True)
def test_postgresql_restart_web_and_worker_recover_without_restarting(tenant_a, tmp_path):
    feed = MovingFeed()
    source = make_source(tenant_a, kind="generic_json", config={"url": feed.url, **GENERIC})
    analyst = member(tenant_a, Role.ANALYST)
    _, token = api_token_issue(user=analyst, tenant=tenant_a)
    private = PrivatePostgres()
    queue = f"fault-{uuid.uuid4().hex[:8]}"
    web = worker = None
    stack = contextlib.ExitStack()
    try:
        copy_test_database(private)
        worker = start_worker(queue, tmp_path, log=tmp_path / "worker.log", DATABASE_URL=private.url)
        web = Web(tmp_path, DATABASE_URL=private.url)  # boots while the worker does
        client = stack.enter_context(httpx.Client(headers={"Authorization": f"Token {token}"}, timeout=30))
        sources_url = f"{web.url}/api/v1/tenants/tenant-a/sources/"

        def stored() -> int:
            with private.connect() as conn:
                return conn.execute(
                    "SELECT count(*) FROM sources_observation o JOIN sources_series s ON s.id = o.series_id "
                    "WHERE s.source_id = %s",
                    [source.pk],
                ).fetchone()[0]

        # Before: every gunicorn thread holds a persistent connection (CONN_MAX_AGE), the worker fetches.
        assert [client.get(sources_url).status_code for _ in range(16)] == [200] * 16, web.output()
        first_due = timezone.now().replace(microsecond=0)
        fetch_source_task.apply_async(args=[tenant_a.pk, source.pk, first_due.isoformat()], queue=queue)
        wait_for(lambda: stored() == RECORDS, 60, "the fetch before the restart")
        workers_before = gunicorn_workers(web)

        private.restart()  # every open connection of web and worker is cut

        answers = [client.get(sources_url) for _ in range(16)]
        assert [r.status_code for r in answers] == [200] * 16, web.output()
        assert answers[-1].json()["results"][0]["id"] == source.pk
        assert gunicorn_workers(web) == workers_before, "a gunicorn worker was restarted"
        feed.minute = 5
        fetch_source_task.apply_async(
            args=[tenant_a.pk, source.pk, (first_due + timedelta(seconds=1)).isoformat()], queue=queue
        )
        wait_for(lambda: stored() == 2 * RECORDS, 60, "the fetch after the restart")
        assert worker.poll() is None, "the worker died"
    finally:
        stack.close()
        feed.close()
        if web:
            web.stop()
        if worker:
            stop(worker)
        private.close()
    assert feed.requests == 2


# --- two beat processes by mistake ---------------------------------------------------------------------

POLL_SECONDS = 3
FETCH_START = re.compile(r"fetch start source=(\d+) tenant=\d+ due=(\S+) lag=\S+ try=(\d+)")


class CountingFeed:
    """Serves the same counts under /<source>; counts requests per path."""

    def __init__(self):
        self.requests: collections.Counter = collections.Counter()
        moment = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
        body = json.dumps({"data": [{"id": "gate", "t": moment.isoformat(), "v": 1}]}).encode()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                feed.requests[self.path.strip("/")] += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def start_beat(tmp_path, name: str, **env) -> subprocess.Popen:
    """A celery beat with its own schedule and pid file (as a second one started by mistake would have)."""
    return spawn(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
         "--schedule", str(tmp_path / f"{name}-schedule"), "--pidfile", str(tmp_path / f"{name}.pid")],
        env=process_env(tmp_path, **env), log=tmp_path / f"{name}.log",
    )  # fmt: skip


@needs_redis_server
@pytest.mark.django_db(transaction=True)
def test_two_beat_processes_fetch_each_source_once_per_due_time(tenant_a, tmp_path):
    feed = CountingFeed()
    sources = [
        make_source(tenant_a, kind="generic_json", poll_interval=10,
                    config={"url": f"{feed.url}/{n}", **GENERIC})
        for n in range(6)
    ]  # fmt: skip
    with scopes_disabled():  # below the 10 s minimum of the API, to see several due times in a few seconds
        Source.objects.filter(pk__in=[s.pk for s in sources]).update(poll_interval=POLL_SECONDS)
    private_redis = PrivateRedis(tmp_path / "redis.log")  # broker of these beats and this worker only
    env = {"REDIS_URL": private_redis.url, "DISPATCH_INTERVAL_SECONDS": "0.5"}
    worker = start_worker("celery", tmp_path, concurrency=2, log=tmp_path / "worker.log", **env)
    beats = [start_beat(tmp_path, f"beat-{n}", **env) for n in range(2)]
    try:
        # Each source is due at creation and every POLL_SECONDS after: wait for four due times of each.
        wait_for(lambda: len(feed.requests) == len(sources) and min(feed.requests.values()) >= 4, 90,
                 "four fetches of every source")  # fmt: skip
    finally:
        for beat in beats:
            stop(beat)
        with redis.Redis.from_url(private_redis.url) as broker:
            wait_for(lambda: broker.llen("celery") == 0, 30, "the queue to drain")
        time.sleep(2)  # the last fetches finish
        stop(worker)
        private_redis.stop()
        feed.close()

    for n in range(2):
        assert "Sending due task dispatch-due-sources" in (tmp_path / f"beat-{n}.log").read_text(), (
            f"beat {n} never dispatched; the test proved nothing"
        )
    starts = FETCH_START.findall((tmp_path / "worker.log").read_text())
    attempts = collections.Counter((int(source_id), due) for source_id, due, _ in starts)
    doubled = {key: count for key, count in attempts.items() if count > 1}
    assert not doubled, f"fetched more than once for one due time: {doubled}"
    for number, source in enumerate(sources):
        dues = sorted(due for source_id, due in attempts if source_id == source.pk)
        assert len(dues) >= 4
        assert feed.requests[str(number)] == len(dues)  # one request per due time, no second fetch


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_the_same_moment_claim_each_due_source_once(tenant_a, tenant_b):
    """The claim itself, raced head-on: two dispatchers on their own connections, 600 sources due at once."""
    now = timezone.now()
    with scopes_disabled():
        Source.objects.bulk_create(
            Source(tenant=tenant, slug=f"s-{n}", name=f"S {n}", kind="generic_json", poll_interval=60,
                   config={"url": "http://127.0.0.1:9/none", **GENERIC}, next_due_at=now - timedelta(seconds=n % 7))
            for tenant in (tenant_a, tenant_b)
            for n in range(300)
        )  # fmt: skip
    start = threading.Barrier(2)
    claimed: list[tuple[int, object]] = []

    def dispatcher():
        try:
            start.wait(10)
            for _ in range(3):
                claimed.extend((c.source_id, c.due_at) for c in claim_due_sources(now=now, limit=200))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(claimed) == len(set(claimed)) == 600  # every due source claimed, none twice
