"""``GET /healthz``: reachability of database, broker and cache, for load balancers and operators."""

import secrets
import time
from datetime import datetime

from celery import current_app
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

HEARTBEAT_KEY = "csm:worker-heartbeat"


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    value = secrets.token_hex(8)
    cache.set("csm:healthz", value, 30)
    if cache.get("csm:healthz") != value:
        raise RuntimeError("cache did not return the value just written")


def _check_broker() -> None:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)


def _worker_heartbeat() -> dict:
    try:
        beat = cache.get(HEARTBEAT_KEY)
    except Exception:  # the cache check reports the failure itself
        return {"status": "unknown"}
    if not beat:
        return {"status": "unknown", "detail": "no heartbeat received yet"}
    age = (timezone.now() - datetime.fromisoformat(beat)).total_seconds()
    return {"status": "ok" if age < 120 else "stale", "last_heartbeat": beat, "age_seconds": round(age, 1)}


@never_cache
def healthz(request):
    """200 when database, broker and cache answer, 503 otherwise; worker heartbeat is informational."""
    checks = {}
    healthy = True
    for name, check in (("database", _check_database), ("broker", _check_broker), ("cache", _check_cache)):
        started = time.perf_counter()
        try:
            check()
            checks[name] = {"status": "ok"}
        except Exception as exc:  # a health probe reports every failure instead of raising
            healthy = False
            checks[name] = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
        checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    checks["worker"] = _worker_heartbeat()
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )
