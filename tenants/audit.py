"""The audit trail: one service writes every entry, the request layer records every write generically.

- :func:`audit_record` is the one writer (one INSERT). Services call it for sensitive events with rich
  details (member and role changes, source secrets, tokens, tenant settings), inside their own
  transaction, so the entry commits or rolls back with the change it describes.
- :func:`audit_api_response` (called by ``TenantViewMixin.finalize_response``) records every non-safe API
  request with its result, every 403, and every export (a CSV or attachment answer), unless a service
  already recorded the same successful request. It runs after the view returned, outside any
  transaction the view opened, so a failed or rolled-back request still leaves its entry.
- :func:`audit_page_response` does the same for POSTs to the ``/t/<slug>/`` pages.
- Log-in success, failure and log-out come from ``django.contrib.auth`` signals (connected in apps.py);
  invalid, expired and revoked API tokens from ``tenants.authentication``.
- :func:`audit_purge` deletes entries past the tenant's ``audit_retention_days``; on PostgreSQL through the
  SECURITY DEFINER function ``csm_audit_purge``, the only thing the append-only trigger lets delete.

The inventory of action names is docs/audit.md.
"""

import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import ApiToken, AuditEntry, AuditResult, Tenant

logger = logging.getLogger(__name__)
SYSTEM = "system"
MAX_DETAILS_CHARS = 4000
MAX_VALUE_CHARS = 400
REDACTED = "[redacted]"
# Keys whose values never enter the trail, at any depth: secrets, passwords, tokens, keys, one-time codes.
SECRET_KEY_PATTERN = re.compile(
    r"secret|passw|token|api[_-]?key|apikey|(^|_)key$|private|credential|authoriz|(^|_)otp($|_)|cookie|signature",
    re.IGNORECASE,
)
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
VERBS = {"create": "create", "update": "update", "partial_update": "update", "destroy": "delete"}
METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


# --- Request context --------------------------------------------------------------------------------


@dataclass
class AuditContext:
    """What the request layer knows about the current request, for entries written deeper down."""

    request: object
    auth: object = None  # the API token in use, once authentication ran
    recorded: bool = False  # a service wrote an entry that covers this request
    tenants_recorded: set = field(default_factory=set)


_context: ContextVar[AuditContext | None] = ContextVar("csm_audit_context", default=None)


@contextmanager
def audit_request(request) -> Iterator[AuditContext]:
    """Make ``request`` the origin of entries written while it is handled (nested calls reuse the outer)."""
    current = _context.get()
    if current is not None:
        yield current
        return
    ctx = AuditContext(request=request)
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def current_context() -> AuditContext | None:
    return _context.get()


_system_label: ContextVar[str] = ContextVar("csm_audit_system_label", default=SYSTEM)


@contextmanager
def system_actor(label: str) -> Iterator[None]:
    """Name the actor of entries written without a user, e.g. ``manage.py create_tenant`` or a task."""
    token = _system_label.set(label[:150])
    try:
        yield
    finally:
        _system_label.reset(token)


def client_ip(request) -> str | None:
    """The caller's address: ``REMOTE_ADDR``, or behind ``AUDIT_TRUSTED_PROXY_HOPS`` proxies the entry of
    ``X-Forwarded-For`` that the outermost trusted proxy added (never a client-supplied one)."""
    meta = getattr(request, "META", {})
    address = meta.get("REMOTE_ADDR") or None
    hops = getattr(settings, "AUDIT_TRUSTED_PROXY_HOPS", 0)
    if hops > 0:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def request_id(request) -> str:
    """A per-request id: the proxy's ``X-Request-ID`` when a trusted proxy is configured, else a new one."""
    request = getattr(request, "_request", request)  # DRF's Request wraps Django's; keep one id per request
    existing = getattr(request, "_audit_request_id", None)
    if existing:
        return existing
    meta = getattr(request, "META", {})
    value = meta.get("HTTP_X_REQUEST_ID", "") if getattr(settings, "AUDIT_TRUSTED_PROXY_HOPS", 0) else ""
    if not REQUEST_ID_PATTERN.match(value):
        value = uuid.uuid4().hex
    with suppress(AttributeError):
        request._audit_request_id = value
    return value


# --- Writing ----------------------------------------------------------------------------------------


def redact(value, *, depth: int = 0):
    """A copy of ``value`` with the values of secret-looking keys replaced, at any depth."""
    if depth > 6:
        return "…"
    if isinstance(value, dict):
        return {
            str(k): REDACTED if SECRET_KEY_PATTERN.search(str(k)) else redact(v, depth=depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, depth=depth + 1) for v in value[:100]]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)[:500]


def _slim(value, *, depth: int = 0):
    """A large value shortened: big members of a dict are replaced by a note of their size, level by level."""
    encoded = json.dumps(value, default=str)
    if len(encoded) <= MAX_VALUE_CHARS:
        return json.loads(encoded)
    if isinstance(value, dict) and depth < 2:
        return {key: _slim(member, depth=depth + 1) for key, member in list(value.items())[:50]}
    return f"… ({len(encoded)} characters left out)"


def _bounded(details: dict) -> dict:
    """Keep the details small: over the limit, large values (a geometry, a long list) become a size note."""
    text = json.dumps(details, default=str)
    if len(text) <= MAX_DETAILS_CHARS:
        return json.loads(text)
    return {key: _slim(value) for key, value in details.items()}


def actor_label(actor) -> str:
    """How the actor is named in the trail: the user name, or 'system' / a command name."""
    if actor is None:
        return _system_label.get()
    if isinstance(actor, str):
        return actor[:150]
    if not getattr(actor, "is_authenticated", False):
        return "anonymous"
    return actor.get_username()[:150]


def _object_fields(obj, object_type: str, object_id, object_label: str) -> tuple[str, str, str]:
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id if object_id not in (None, "") else obj.pk
        object_label = object_label or str(obj)
    return (object_type or "")[:100], ("" if object_id is None else str(object_id))[:64], object_label[:200]


def audit_record(
    *,
    tenant: Tenant | None,
    actor,
    action: str,
    obj=None,
    result: str = AuditResult.SUCCESS,
    request=None,
    details: dict | None = None,
    object_type: str = "",
    object_id=None,
    object_label: str = "",
    covers_request: bool = True,
) -> AuditEntry:
    """Append one entry. ``actor`` is a user, None (system) or a label such as 'manage.py create_tenant'.

    ``request`` defaults to the request being handled (origin address, user agent, request id).
    ``covers_request``: this entry describes the whole request, so the generic capture adds none.
    """
    ctx = _context.get()
    if request is None and ctx is not None:
        request = ctx.request
    details = redact(dict(details or {}))
    # Only an authentication that already ran: reading request.auth here could start one (and recurse).
    auth = ctx.auth if ctx is not None else vars(request).get("_auth") if request is not None else None
    if isinstance(auth, ApiToken) and not isinstance(actor, str) and getattr(actor, "pk", 0) == auth.user_id:
        details.setdefault("token", f"{auth.prefix}…")
    object_type, object_id, object_label = _object_fields(obj, object_type, object_id, object_label)
    entry = AuditEntry(
        tenant=tenant,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label(actor),
        action=action[:100],
        object_type=object_type,
        object_id=object_id,
        object_label=object_label,
        result=result,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        request_id=request_id(request) if request is not None else "",
        details=_bounded(details),
    )
    entry.save()
    if ctx is not None and covers_request and result == AuditResult.SUCCESS:
        ctx.recorded = True
    return entry


def audit_record_for_tenants(*, tenants: list[Tenant], **kwargs) -> list[AuditEntry]:
    """The same event once per tenant (a member's log-in is shown to each of the member's tenants)."""
    return [audit_record(tenant=tenant, **kwargs) for tenant in tenants or [None]]


# --- Generic capture at the request layer -----------------------------------------------------------


def result_for_status(status: int) -> str:
    if status >= 500:
        return AuditResult.ERROR
    if status in (401, 403):
        return AuditResult.DENIED
    if status >= 400:
        return AuditResult.FAILED
    return AuditResult.SUCCESS


def _view_object_type(view) -> str:
    explicit = getattr(view, "audit_object_type", None)
    if explicit:
        return explicit
    basename = getattr(view, "basename", None)
    if basename:
        return basename.replace("-", "_")
    model = getattr(view, "model", None)
    if model is None and getattr(view, "queryset", None) is not None:
        model = view.queryset.model
    if model is not None:
        return model._meta.model_name
    name = type(view).__name__
    for suffix in ("ViewSet", "View"):
        name = name.removesuffix(suffix)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _request_fields(request) -> dict | None:
    """The JSON fields the caller sent (redacted), or None for raw bodies and unparsable input."""
    try:
        data = request.data
    except Exception:  # the parse error was already answered; the entry needs no body
        return None
    if isinstance(data, dict) and "body" in data and isinstance(data.get("body"), bytes):
        return None  # a raw push body: rows are counted in the response instead
    if hasattr(data, "dict"):
        data = data.dict()
    return data if isinstance(data, dict) else None


def _response_summary(response) -> dict:
    data = getattr(response, "data", None)
    summary = {}
    if isinstance(data, dict):
        for key in ("accepted", "duplicate", "rejected", "created", "updated", "detail"):
            if key in data and isinstance(data[key], int | str):
                summary[key] = data[key] if isinstance(data[key], int) else str(data[key])[:300]
        if isinstance(data.get("errors"), dict):
            summary["error_fields"] = sorted(str(k) for k in data["errors"])[:30]
    return summary


def _is_export(view, request, response) -> str | None:
    """The export's name when a safe request answered with a file (CSV or an attachment), else None."""
    action = getattr(view, "action", None)
    named = getattr(view, "audit_export_actions", {}) or {}
    if action in named:
        return named[action]
    content_type = response.get("Content-Type", "") if hasattr(response, "get") else ""
    disposition = response.get("Content-Disposition", "") if hasattr(response, "get") else ""
    if "attachment" in disposition or content_type.startswith("text/csv"):
        if action and action not in ("list", "retrieve"):
            return f"export.{_view_object_type(view)}.{action}"
        return f"export.{_view_object_type(view)}"
    return None


def audit_api_response(*, view, request, response) -> AuditEntry | None:
    """Record a tenant API request after it was answered: writes, 403s and exports (see module doc)."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or getattr(view, "audit_skip", False):
        return None
    status = response.status_code
    method = request.method
    ctx = _context.get()
    actor = request.user
    object_type = _view_object_type(view)
    details = {"method": method, "path": request.path, "status": status}
    snapshot = getattr(view, "_audit_object", None)  # (pk, label) taken by get_object, before any delete
    if snapshot is not None:
        object_id, label = snapshot
    else:
        kwargs = getattr(view, "kwargs", {}) or {}
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
        object_id, label = kwargs.get(lookup), ""
    if status == 403:
        details.update(_response_summary(response))
        return audit_record(
            tenant=tenant, actor=actor, action="access.denied", object_type=object_type,
            object_id=object_id, object_label=label, result=AuditResult.DENIED, details=details,
        )  # fmt: skip
    if method in SAFE_METHODS:
        export = _is_export(view, request, response) if status < 300 else None
        if export is None:
            return None
        details["query"] = {k: v for k, v in request.query_params.items()}
        return audit_record(
            tenant=tenant, actor=actor, action=export, object_type=object_type,
            object_id=object_id, object_label=label, details=details,
        )  # fmt: skip
    result = result_for_status(status)
    if ctx is not None and ctx.recorded and result == AuditResult.SUCCESS:
        return None
    action = getattr(view, "action", None)
    verb = VERBS.get(action) or action or METHOD_VERBS.get(method, method.lower())
    if snapshot is None and status < 300 and isinstance(getattr(response, "data", None), dict):
        object_id = object_id or response.data.get("id")
        label = response.data.get("slug") or response.data.get("name") or ""
    fields = _request_fields(request)
    if fields:
        details["fields"] = fields
    details.update(_response_summary(response))
    return audit_record(
        tenant=tenant, actor=actor, action=f"{object_type}.{verb}", object_type=object_type,
        object_id=object_id, object_label=str(label), result=result, details=details,
    )  # fmt: skip


def audit_unhandled_error(*, view, request) -> None:
    """An exception escaped the view (a 500): record it when the tenant is known; never mask the error."""
    if getattr(request, "tenant", None) is None:
        return
    try:
        audit_record(
            tenant=request.tenant, actor=request.user, action="request.error", result=AuditResult.ERROR,
            object_type=_view_object_type(view), details={"method": request.method, "path": request.path},
        )  # fmt: skip
    except Exception:  # the original error matters more; the log keeps this one
        logger.exception("Could not record the audit entry of a failed request")


def audit_page_response(*, request, response, url_name: str) -> AuditEntry | None:
    """Record a POST (or other write) to a tenant page, and a 403 on any tenant page."""
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return None
    status = response.status_code
    details = {"method": request.method, "path": request.path, "status": status}
    if status == 403:
        return audit_record(
            tenant=tenant, actor=request.user, action="access.denied", result=AuditResult.DENIED,
            object_type="page", object_label=url_name, details=details,
        )  # fmt: skip
    if request.method in SAFE_METHODS:
        return None
    result = result_for_status(status)
    ctx = _context.get()
    if ctx is not None and ctx.recorded and result == AuditResult.SUCCESS:
        return None
    fields = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    if fields:
        details["fields"] = fields
    return audit_record(
        tenant=tenant, actor=request.user, action=f"page.{url_name.replace('-', '_')}.post", result=result,
        object_type="page", object_label=url_name, details=details,
    )  # fmt: skip


def audit_admin_response(*, request, response) -> AuditEntry | None:
    """A write through the Django admin (platform staff): a platform entry with the admin path.

    Django's admin also keeps its own LogEntry with the changed fields; this entry adds origin and result.
    """
    if request.method in SAFE_METHODS:
        return None
    fields = sorted(k for k in request.POST if k != "csrfmiddlewaretoken")[:50]
    return audit_record(
        tenant=None, actor=request.user, action="admin.post", result=result_for_status(response.status_code),
        request=request, object_type="admin", object_label=request.path[:200],
        details={"method": request.method, "path": request.path, "status": response.status_code,
                 "field_names": fields},
    )  # fmt: skip


def audit_cross_tenant(*, request, tenant: Tenant, reason: str, actor=None) -> AuditEntry:
    """A signed-in caller reached for a tenant it may not enter: recorded against that (target) tenant."""
    return audit_record(
        tenant=tenant,
        actor=actor or request.user,
        action="access.cross_tenant",
        result=AuditResult.DENIED,
        request=request,
        object_type="tenant",
        object_id=tenant.pk,
        object_label=tenant.slug,
        details={"method": request.method, "path": request.path, "reason": reason},
    )


# --- Log-ins ----------------------------------------------------------------------------------------


def _member_tenants(user) -> list[Tenant]:
    from .selectors import memberships_of_user

    return [m.tenant for m in memberships_of_user(user=user)] if user is not None else []


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    """Signal receiver: a log-in through the session (log-in page, admin)."""
    audit_record_for_tenants(
        tenants=_member_tenants(user), actor=user, action="auth.login", request=request,
        object_type="user", object_id=user.pk, object_label=user.get_username(), details={"via": "session"},
    )  # fmt: skip


def on_user_logged_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    audit_record_for_tenants(
        tenants=_member_tenants(user), actor=user, action="auth.logout", request=request,
        object_type="user", object_id=user.pk, object_label=user.get_username(),
    )  # fmt: skip


def on_user_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """Signal receiver: wrong password or unknown user (page, admin or the token endpoint).

    Recorded for each tenant of the named user (its admins see attempts on their members), or as a
    platform entry when no such user exists. The password never reaches the receiver unmasked.
    """
    from django.contrib.auth import get_user_model

    User = get_user_model()  # noqa: N806
    username = str(credentials.get(User.USERNAME_FIELD) or credentials.get("username") or "")[:150]
    user = User.objects.filter(**{User.USERNAME_FIELD: username}).first() if username else None
    via = "api_token" if request is not None and request.path.startswith("/api/") else "session"
    audit_record_for_tenants(
        tenants=_member_tenants(user),
        actor=username or "anonymous",
        action="auth.login.failed",
        result=AuditResult.FAILED,
        request=request,
        object_type="user",
        object_id=user.pk if user else None,
        object_label=username,
        details={"via": via, "known_user": user is not None},
    )  # fmt: skip


def audit_token_login(*, request, user, token: ApiToken) -> list[AuditEntry]:
    """A log-in at the token endpoint: recorded for the token's tenant, or each of the user's tenants."""
    tenants = [token.tenant] if token.tenant_id else _member_tenants(user)
    return audit_record_for_tenants(
        tenants=tenants, actor=user, action="auth.login", request=request, object_type="api_token",
        object_id=token.pk, object_label=f"{token.prefix}…",
        details={"via": "api_token", "token": f"{token.prefix}…", "expires_at": token.expires_at,
                 "limited_to_tenant": token.tenant.slug if token.tenant_id else None},
    )  # fmt: skip


def audit_token_revoked(*, request, token: ApiToken) -> list[AuditEntry]:
    """The holder revoked the token in use (DELETE /api/v1/auth/token/)."""
    tenants = [token.tenant] if token.tenant_id else _member_tenants(token.user)
    return audit_record_for_tenants(
        tenants=tenants, actor=token.user, action="auth.token.revoke", request=request,
        object_type="api_token", object_id=token.pk, object_label=f"{token.prefix}…",
    )  # fmt: skip


def audit_token_rejected(*, request, token: ApiToken | None, reason: str) -> AuditEntry:
    """An API call with a forged, expired or revoked token (or one of an inactive user)."""
    return audit_record(
        tenant=token.tenant if token is not None else None,
        actor=token.user if token is not None else "unknown token",
        action=f"auth.token.{reason}",
        result=AuditResult.DENIED,
        request=request,
        object_type="api_token" if token is not None else "",
        object_id=token.pk if token is not None else None,
        object_label=f"{token.prefix}…" if token is not None else "",
        details={"method": request.method, "path": request.path} if request is not None else {},
    )


# --- Retention --------------------------------------------------------------------------------------


def _purge_function(tenant_id: int | None, now: datetime, platform_days: int | None = None) -> int:
    """PostgreSQL: the SECURITY DEFINER function ``csm_audit_purge`` (tenants migration 0007) is the only
    way an entry can be deleted; it applies the retention itself and records the purge."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT csm_audit_purge(%s, %s, %s)", [tenant_id, now, platform_days])
        return cursor.fetchone()[0]


def audit_purge(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Delete the tenant's entries older than its ``audit_retention_days``; record the purge itself."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        return _purge_function(tenant.pk, now)
    cutoff = now - timedelta(days=tenant.audit_retention_days)
    with transaction.atomic():
        deleted = (
            AuditEntry.objects.with_scopes_disabled().filter(tenant=tenant, created_at__lt=cutoff)._purge()
        )
        if deleted:
            audit_record(
                tenant=tenant, actor=None, action="audit.purge", request=None,
                details={"deleted": deleted, "older_than": cutoff.isoformat(),
                         "retention_days": tenant.audit_retention_days},
            )  # fmt: skip
    return deleted


def audit_purge_platform(*, now: datetime | None = None) -> int:
    """Delete platform entries (no tenant) older than ``AUDIT_PLATFORM_RETENTION_DAYS``."""
    now = now or timezone.now()
    days = getattr(settings, "AUDIT_PLATFORM_RETENTION_DAYS", 730)
    if connection.vendor == "postgresql":
        return _purge_function(None, now, days)
    cutoff = now - timedelta(days=days)
    with transaction.atomic():
        return (
            AuditEntry.objects.with_scopes_disabled()
            .filter(tenant__isnull=True, created_at__lt=cutoff)
            ._purge()
        )
