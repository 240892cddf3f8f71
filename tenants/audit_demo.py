"""Demo part of ``seed_demo``: a believable audit trail for each demo tenant (the last three days).

The demo's own writes go through services and the shell, not through requests, so this seeder tells the
story an admin would see after a few days of use: the onboarding, members invited, log-ins (one failed),
a source secret set, an operator refused a settings change, an analyst's CSV export and a member of
another organisation knocking on the wrong door. Entries name the real demo users and objects.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.utils import timezone

from .choices import Role
from .demo import DEMO_TENANTS, register_demo_seeder
from .models import AuditEntry, AuditResult

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
EDGE = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Edg/126.0"
SCRIPT = "python-httpx/0.27.0"


def _entry(tenant, when, actor, action, *, result=AuditResult.SUCCESS, obj=None, ip="10.20.0.11", ua=FIREFOX,
           details=None, object_type="", object_id="", object_label="", seq=0):  # fmt: skip
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id, object_label = str(obj.pk), object_label or str(obj)
    return AuditEntry(
        tenant=tenant,
        actor=actor if not isinstance(actor, str) else None,
        actor_label=actor if isinstance(actor, str) else actor.get_username(),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_label=object_label[:200],
        result=result,
        ip_address=ip,
        user_agent=ua,
        request_id=f"demo-{tenant.slug}-{seq:03d}",
        details=details or {},
        created_at=when,
    )


def _local(now: datetime, tenant, days_ago: int, hour: int, minute: int) -> datetime:
    """``hour:minute`` on the tenant's wall clock, ``days_ago`` days before ``now``: the same office hours in
    summer and winter time."""
    tz = ZoneInfo(tenant.time_zone)
    return datetime.combine(
        (now - timedelta(days=days_ago)).astimezone(tz).date(), time(hour, minute), tzinfo=tz
    )


@register_demo_seeder(90, "audit-trail")
def seed_audit_trail(*, tenant, users, stdout) -> None:
    """Write the demo trail once per tenant (skipped when it is there already)."""
    if AuditEntry.objects.filter(tenant=tenant, request_id__startswith="demo-").exists():
        return
    now = timezone.now().replace(second=0, microsecond=0)
    day = _local(now, tenant, 3, 9, 30)
    admin, operator, analyst = users[Role.ADMIN], users[Role.OPERATOR], users[Role.ANALYST]
    base = f"/api/v1/tenants/{tenant.slug}/"
    story = [
        (day, "manage.py seed_demo", "tenant.create", {"object_type": "tenant", "object_id": tenant.pk,
                                                        "object_label": tenant.slug, "ip": None, "ua": ""}),
        (day + timedelta(minutes=20), admin, "auth.login", {"details": {"via": "session"}}),
    ]  # fmt: skip
    for n, role in enumerate([Role.OPERATOR, Role.ANALYST, Role.ORGANISER, Role.INTEGRATION]):
        story.append(
            (day + timedelta(minutes=25 + n), admin, "member.invite",
             {"object_type": "member", "object_label": users[role].get_username(),
              "details": {"user": users[role].get_username(), "role": role, "user_created": True}})
        )  # fmt: skip
    source = tenant.sources.order_by("pk").first()
    if source is not None:
        story += [
            (day + timedelta(minutes=40), admin, "source.secret.set",
             {"obj": source, "object_type": "source", "object_label": source.slug,
              "details": {"keys": ["api_key"], "replaced_earlier": False}}),
            (day + timedelta(minutes=40), admin, "source.update",
             {"obj": source, "object_type": "source", "object_label": source.slug,
              "details": {"method": "PATCH", "path": f"{base}sources/{source.pk}/", "status": 200,
                          "fields": {"secrets": "[redacted]"}}}),
        ]  # fmt: skip
    day2 = _local(now, tenant, 1, 7, 55)
    analyst_at = _local(now, tenant, 1, 11, 40)
    other = next((spec["slug"] for spec in DEMO_TENANTS if spec["slug"] != tenant.slug), None)
    # The other organisation's admin; by name only while that tenant is not seeded yet.
    outsider = (
        (get_user_model().objects.filter(username=f"{other}-admin").first() or f"{other}-admin")
        if other
        else None
    )
    story += [
        (day + timedelta(minutes=55), admin, "tenant.update",
         {"object_type": "tenant", "object_id": tenant.pk, "object_label": tenant.slug,
          "details": {"changes": {"public_page_enabled": [False, True]}}}),
        (day2, operator.get_username(), "auth.login.failed",
         {"result": AuditResult.FAILED, "ip": "10.20.4.37", "ua": EDGE, "object_type": "user",
          "object_id": operator.pk, "object_label": operator.get_username(),
          "details": {"via": "session", "known_user": True}}),
        (day2 + timedelta(minutes=1), operator, "auth.login",
         {"ip": "10.20.4.37", "ua": EDGE, "details": {"via": "session"}}),
        (day2 + timedelta(minutes=9), operator, "access.denied",
         {"result": AuditResult.DENIED, "ip": "10.20.4.37", "ua": EDGE, "object_type": "tenant",
          "details": {"method": "PATCH", "path": base, "status": 403,
                      "detail": f"Your role 'operator' in {tenant.slug} does not allow this ('manage' right "
                                "needed)."}}),
        (analyst_at, analyst, "auth.login",
         {"ip": "10.30.1.5", "ua": SCRIPT, "object_type": "api_token",
          "details": {"via": "api_token", "token": "csm_Xq3vT0b…", "limited_to_tenant": tenant.slug}}),
        (analyst_at + timedelta(minutes=2), analyst, "export.observations",
         {"ip": "10.30.1.5", "ua": SCRIPT, "object_type": "observations",
          "details": {"method": "GET", "path": f"{base}observations/", "status": 200,
                      "query": {"format": "csv", "resample": "1h", "agg": "mean"}}}),
    ]  # fmt: skip
    if other is not None:
        story.append(
            (now - timedelta(hours=6), outsider, "access.cross_tenant",
             {"result": AuditResult.DENIED, "ip": "172.16.8.20", "object_type": "tenant",
              "object_id": tenant.pk, "object_label": tenant.slug,
              "details": {"method": "GET", "path": f"{base}areas/", "reason": "not a member"}})
        )  # fmt: skip
    entries = []
    for seq, (when, actor, action, extra) in enumerate(story):
        extra = dict(extra)
        entries.append(
            _entry(tenant, when, actor, action, seq=seq, ip=extra.pop("ip", "10.20.0.11"),
                   ua=extra.pop("ua", FIREFOX), **extra)
        )  # fmt: skip
    AuditEntry._base_manager.bulk_create(entries)
    stdout.write(f"  {tenant.slug}: {len(entries)} audit-trail entries")
