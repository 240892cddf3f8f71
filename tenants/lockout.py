"""Log-in lock-out: per user name with an exponential delay, plus a generous limit per client address.

A town hall, a police station or an event office reaches the platform from one address behind NAT, so a
lock on "user name + address" (or on the address alone at a low limit) lets one person lock out a
building. Instead:

- **Per user name.** After ``LOGIN_FAILURE_LIMIT`` failed attempts (wrong password or wrong code) the
  name is locked for ``LOGIN_LOCK_BASE_SECONDS``; every further failure after the lock has passed doubles
  the delay, up to ``LOGIN_LOCK_MAX_SECONDS``. Attempts during a lock are refused without looking at the
  password and do not lengthen it. The count ends with a successful log-in, an admin's unlock, or
  ``LOGIN_FAILURE_RESET_SECONDS`` without failures.
- **Per address.** ``LOGIN_ADDRESS_FAILURE_LIMIT`` failures from one address within
  ``LOGIN_ADDRESS_WINDOW_SECONDS`` (over all user names) refuse further attempts from it until the window
  has passed: it stops one address spraying guesses over many accounts, and is high enough for a building.
- **Getting in anyway.** A locked user name still logs in with the right password *and* a valid second
  factor (a code of the authenticator app or a backup code), sent together; or a tenant admin unlocks the
  member (``POST .../members/{id}/unlock/``), or platform staff run ``manage.py unlock_login <name>``.

The counts live in the database (``LoginThrottle``), so every web process and host sees the same ones.
Failures are counted from Django's ``user_login_failed`` signal, wherever they happen (log-in page,
Django admin, token endpoint, wrong codes).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from core.problems import PROBLEM_CONTENT_TYPE, problem

from .models import LoginThrottle

Kind = LoginThrottle.Kind


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused now, and for how long."""

    kind: str  # "user" or "address"
    until: datetime

    @property
    def retry_after(self) -> int:
        return max(1, int((self.until - timezone.now()).total_seconds() + 0.999))

    @property
    def message(self) -> str:
        wait = _wait_text(self.retry_after)
        if self.kind == Kind.ADDRESS:
            return (
                f"Too many failed log-in attempts from your address. Try again in {wait}. With an "
                "authenticator app you can log in now: send your password together with a current code."
            )
        return (
            f"Too many failed log-in attempts for this account. Try again in {wait}, log in with your "
            "password together with a code of your authenticator app, or ask your organisation's admin "
            "to unlock the account."
        )


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


def enabled() -> bool:
    return settings.LOGIN_LOCKOUT_ENABLED


def user_key(username) -> str:
    return str(username or "").strip().lower()[:150]


def refusal(*, username, address: str | None, now: datetime | None = None) -> Refusal | None:
    """The lock that refuses an attempt for ``username`` from ``address`` now, or None."""
    if not enabled():
        return None
    now = now or timezone.now()
    keys = [(Kind.USER, user_key(username))] if user_key(username) else []
    if address:
        keys.append((Kind.ADDRESS, address))
    for kind, key in keys:
        row = LoginThrottle.objects.filter(kind=kind, key=key, locked_until__gt=now).first()
        if row is not None:
            return Refusal(kind=kind, until=row.locked_until)
    return None


def _user_delay(failures: int) -> timedelta | None:
    """The lock after the ``failures``-th failure in a row (None below the limit)."""
    over = failures - settings.LOGIN_FAILURE_LIMIT
    if over < 0:
        return None
    seconds = settings.LOGIN_LOCK_BASE_SECONDS * 2 ** min(over, 30)
    return timedelta(seconds=min(seconds, settings.LOGIN_LOCK_MAX_SECONDS))


def _row(kind: str, key: str, now: datetime) -> LoginThrottle:
    """The row of (kind, key), locked for update; created on first use."""
    try:
        with transaction.atomic():
            LoginThrottle.objects.get_or_create(
                kind=kind, key=key, defaults={"first_failure_at": now, "last_failure_at": now}
            )
    except IntegrityError:  # created meanwhile by a concurrent failure
        pass
    return LoginThrottle.objects.select_for_update().get(kind=kind, key=key)


def record_failure(*, username, address: str | None, now: datetime | None = None) -> Refusal | None:
    """Count one failed attempt; returns the lock it caused, if any. Attempts refused by a lock already
    in force are not counted (callers do not call this for them)."""
    if not enabled():
        return None
    now = now or timezone.now()
    caused = None
    with transaction.atomic():
        key = user_key(username)
        if key:
            row = _row(Kind.USER, key, now)
            if row.failures and now - row.last_failure_at > timedelta(
                seconds=settings.LOGIN_FAILURE_RESET_SECONDS
            ):
                row.failures, row.first_failure_at = 0, now
            row.failures += 1
            row.last_failure_at = now
            delay = _user_delay(row.failures)
            if delay is not None:
                row.locked_until = now + delay
                caused = Refusal(kind=Kind.USER, until=row.locked_until)
            row.save()
        if address:
            row = _row(Kind.ADDRESS, address, now)
            window = timedelta(seconds=settings.LOGIN_ADDRESS_WINDOW_SECONDS)
            if now - row.first_failure_at > window:
                row.failures, row.first_failure_at, row.locked_until = 0, now, None
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
                row.locked_until = row.first_failure_at + window
                caused = caused or Refusal(kind=Kind.ADDRESS, until=row.locked_until)
            row.save()
    return caused


def record_success(*, username) -> None:
    """A complete log-in (password and, where asked, the second factor): the user name's count ends."""
    LoginThrottle.objects.filter(kind=Kind.USER, key=user_key(username)).delete()


def unlock(*, username) -> bool:
    """End the lock and the count of a user name (admin unlock); True when there was one."""
    deleted, _ = LoginThrottle.objects.filter(kind=Kind.USER, key=user_key(username)).delete()
    return bool(deleted)


def locked_until(*, username, now: datetime | None = None) -> datetime | None:
    """When the user name's lock ends, or None when it is not locked."""
    row = LoginThrottle.objects.filter(
        kind=Kind.USER, key=user_key(username), locked_until__gt=now or timezone.now()
    ).first()
    return row.locked_until if row else None


def purge(*, now: datetime | None = None) -> int:
    """Delete counts that no longer matter (daily): no lock in force and no failure for a day."""
    now = now or timezone.now()
    horizon = now - timedelta(
        seconds=max(settings.LOGIN_FAILURE_RESET_SECONDS, settings.LOGIN_ADDRESS_WINDOW_SECONDS)
    )
    stale = LoginThrottle.objects.filter(last_failure_at__lt=horizon).exclude(locked_until__gt=now)
    return stale.delete()[0]


def lockout_response(request, refusal):
    """The answer to a log-in refused by the lock-out (above): a 429 problem document on API
    paths, a page otherwise (with the form for password plus a code of the authenticator app)."""
    if request.path_info.startswith("/api/"):
        response = JsonResponse(
            problem(429, refusal.message, code="locked_out"), status=429, content_type=PROBLEM_CONTENT_TYPE
        )
    else:
        context = {
            "message": refusal.message,
            "by_address": refusal.kind == "address",
            "username": request.POST.get("username", "") if request.method == "POST" else "",
            "next": request.POST.get("next", "") if request.method == "POST" else "",
        }
        response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(refusal.retry_after)
    return response
