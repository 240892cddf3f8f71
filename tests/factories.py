"""factory_boy factories, and ``make_for_tenant``: one object of a tenant-owned model for generated tests."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_scopes import scopes_disabled

from areas.geometry import measure
from areas.models import Area, Event
from areas.services import area_create, event_create
from configpkg.models import SharedTemplate
from incidents.models import (
    ActionAttachment,
    ActionLogEntry,
    Alert,
    AlertRule,
    Incident,
    InterventionType,
    Outcome,
    Webhook,
)
from sharing.choices import ShareKind
from sharing.models import JointOperation, SharingAgreement
from sources.models import Series, Source
from tenants.choices import Role
from tenants.models import AuditEntry, Membership, Tenant
from tenants.scoping import tenant_scope
from tenants.services import api_token_issue

PASSWORD = "secret-pass-123"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: f"Gemeente {o.slug.title()}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user-{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OPERATOR

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


def member(tenant: Tenant, role: str, username: str | None = None, **kwargs):
    """A user with ``role`` in ``tenant``."""
    user = UserFactory(username=username or f"{tenant.slug}-{role}")
    MembershipFactory(tenant=tenant, user=user, role=role, **kwargs)
    return user


def login(client, user):
    """Log ``client`` in as ``user`` as after the full log-in: users who need a second factor (tenant admins,
    staff, members of tenants requiring it) get a confirmed authenticator and an OTP-verified session."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tenants.mfa import user_needs_mfa

    client.force_login(user)
    if user_needs_mfa(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        device = device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def otp_code(user) -> str:
    """The code ``user``'s authenticator shows now (a confirmed one is created when the user has none)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tenants.mfa import current_code

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return current_code(device)


def token_for(user, tenant: Tenant | None = None) -> str:
    """A raw API token for ``user``."""
    return api_token_issue(user=user, tenant=tenant)[1]


def square(lon: float = 4.2727, lat: float = 52.1117, size: float = 0.001) -> dict:
    """A small GeoJSON square near the Kurhaus (about 68 m x 111 m for the default size)."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_area(tenant: Tenant, slug: str = "kurhaus", **data):
    """An area created through the service (so surface and bounding box are computed)."""
    data.setdefault("name", slug.replace("-", " ").title())
    data["geometry"] = measure(data.get("geometry") or square())
    with tenant_scope(tenant):
        return area_create(tenant=tenant, actor=None, data={"slug": slug, **data})


def make_event(tenant: Tenant, slug: str = "koningsdag", organisers=(), **data):
    """An event (King's Day 2027 by default), optionally granted to organiser usernames."""
    amsterdam = ZoneInfo("Europe/Amsterdam")
    data.setdefault("name", slug.title())
    data.setdefault("start", datetime(2027, 4, 27, 8, tzinfo=amsterdam))
    data.setdefault("end", datetime(2027, 4, 27, 21, tzinfo=amsterdam))
    with tenant_scope(tenant):
        return event_create(
            tenant=tenant, actor=None, data={"slug": slug, "organisers": list(organisers), **data}
        )


def make_source(
    tenant: Tenant, kind: str = "counting_camera", config=None, secrets=None, slug=None, areas=(), **data
):
    """A source created through the service (config and secrets validated against the connector)."""
    from sources.services import source_create

    data.setdefault("name", (slug or kind).replace("-", " ").replace("_", " ").title())
    with tenant_scope(tenant):
        count = tenant.sources.model.objects.count()
        return source_create(
            tenant=tenant,
            actor=None,
            data={"slug": slug or f"{kind.replace('_', '-')}-{count + 1}", "kind": kind, "config": config or {},
                  "secrets": secrets or {}, "areas": list(areas), **data},
        )  # fmt: skip


# One maker per tenant-owned model that an API route exposes. The generated cross-tenant test fails for a
# route whose model has no maker here, so every new endpoint gets covered.
def make_series(tenant: Tenant, key: str = "cam-1", metric: str = "people_count", source=None, **data):
    """A series of a (new) counting-camera source."""
    source = source or make_source(tenant)
    return Series.objects.with_scopes_disabled().create(
        tenant=tenant, source=source, key=key, metric=metric, name=data.pop("name", key), **data
    )


def make_alert_rule(tenant: Tenant, **data):
    from incidents.services import alert_rule_save

    data.setdefault("name", "Crowded now")
    data.setdefault("kind", "level_now")
    data.setdefault("level", "crowded")
    with tenant_scope(tenant):
        return alert_rule_save(tenant=tenant, actor=None, data=data)


def make_alert(tenant: Tenant, message: str = "Crowding at the pier entrance"):
    from incidents.models import Alert

    return Alert.objects.with_scopes_disabled().create(
        tenant=tenant, kind="manual", message=message, opened_at=datetime.now(ZoneInfo("UTC"))
    )


def make_webhook(tenant: Tenant):
    from incidents.services import webhook_create

    with tenant_scope(tenant):
        return webhook_create(
            tenant=tenant, actor=None, name="Control room", url="https://hooks.example.org/csm"
        )[0]


def make_action(tenant: Tenant):
    from incidents.actions import action_create, ensure_default_interventions
    from incidents.models import InterventionType

    area = make_area(tenant, slug=f"action-area-{Area.objects.count() + 1}")
    with tenant_scope(tenant):
        ensure_default_interventions(tenant=tenant)
        return action_create(
            tenant=tenant,
            actor=None,
            data={
                "intervention": InterventionType.objects.get(slug="other"),
                "areas": [area],
                "started_at": datetime(2026, 7, 4, 13, tzinfo=ZoneInfo("UTC")),
            },
        )


def make_incident(tenant: Tenant):
    from incidents.models import Incident

    area = make_area(tenant, slug=f"incident-area-{Area.objects.count() + 1}")
    return Incident.objects.with_scopes_disabled().create(
        tenant=tenant, kind="medical", area=area, occurred_at=datetime(2026, 7, 4, 13, tzinfo=ZoneInfo("UTC"))
    )


def make_outcome(tenant: Tenant):
    from incidents.models import Outcome

    entry = make_action(tenant)
    start = entry.started_at
    return Outcome.objects.with_scopes_disabled().create(
        tenant=tenant,
        action=entry,
        area=Area.objects.filter(actions=entry).first(),
        method="before_after",
        window_start=start,
        window_end=start,
        measured_at=start,
    )


def make_attachment(tenant: Tenant):
    """A small PDF attached to a new action of the tenant."""
    from django.core.files.base import ContentFile

    from incidents.models import ActionAttachment

    entry = make_action(tenant)
    attachment = ActionAttachment(
        tenant=tenant,
        entry=entry,
        filename="report.pdf",
        content_type="application/pdf",
        size=9,
        sha256="0" * 64,
        uploaded_at=entry.started_at,
    )
    attachment.file.save("report.pdf", ContentFile(b"%PDF-1.4\n"), save=False)
    attachment.save()
    return attachment


def make_shared_template(tenant: Tenant):
    """A coalition library template published by ``tenant`` (its configuration of the moment)."""
    from configpkg.models import SharedTemplate
    from configpkg.services import shared_template_publish

    return shared_template_publish(
        tenant=tenant, actor=None, slug=f"template-{SharedTemplate.objects.count() + 1}", name="Beach summer"
    )


def make_intervention(tenant: Tenant):
    from incidents.models import InterventionType

    return InterventionType.objects.with_scopes_disabled().create(
        tenant=tenant, slug=f"measure-{InterventionType.objects.count() + 1}", name="Measure"
    )


def make_audit_entry(tenant: Tenant):
    """An audit entry of the tenant, written through the service."""
    from tenants.audit import audit_record

    return audit_record(tenant=tenant, actor=None, action="test.entry", object_type="test", object_id=1)


def make_agreement(
    provider: Tenant, recipient: Tenant | None = None, *, areas=None, kinds=None, state="accepted", **kwargs
):
    """An agreement by which ``provider`` shares ``areas`` (default: one new area) with ``recipient``
    (default: a new partner tenant; none with ``operation=``: every party of it), accepted unless ``state``
    says otherwise, valid from an hour ago."""
    operation = kwargs.get("operation")
    if recipient is None and operation is None:
        recipient = TenantFactory(slug=f"partner-of-{provider.slug}")
    with scopes_disabled():
        if areas is None:
            areas = [make_area(provider, slug=f"shared-{Area.objects.count() + 1}")]
        agreement = SharingAgreement.objects.create(
            provider=provider,
            recipient=recipient,
            kinds=list(ShareKind.values) if kinds is None else kinds,
            valid_from=kwargs.pop("valid_from", timezone.now() - timedelta(hours=1)),
            purpose=kwargs.pop("purpose", "Joint event"),
            state=state,
            **kwargs,
        )
        agreement.parties.set([provider, recipient] if recipient else list(operation.parties.all()))
        agreement.areas.set(areas)
    return agreement


def make_operation(lead: Tenant, *participants: Tenant, slug: str | None = None, **kwargs):
    """A running joint operation led by ``lead`` (from an hour ago, for a day) that ``participants`` joined
    (default: a new partner tenant)."""
    from sharing.models import OperationParticipant

    participants = participants or (TenantFactory(slug=f"partner-of-{lead.slug}"),)
    now = timezone.now()
    with scopes_disabled():
        operation = JointOperation.objects.create(
            lead=lead,
            slug=slug or f"operation-{JointOperation.objects.count() + 1}",
            name=kwargs.pop("name", "Koningsdag"),
            starts_at=kwargs.pop("starts_at", now - timedelta(hours=1)),
            ends_at=kwargs.pop("ends_at", now + timedelta(days=1)),
            **kwargs,
        )
        operation.parties.set([lead, *participants])
        for tenant in (lead, *participants):
            OperationParticipant.objects.create(operation=operation, tenant=tenant, state="joined")
    return operation


TENANT_OBJECT_MAKERS = {
    Membership: lambda tenant: MembershipFactory(tenant=tenant, role=Role.ANALYST),
    AuditEntry: make_audit_entry,
    Source: lambda tenant: make_source(tenant),
    Series: lambda tenant: make_series(tenant),
    Alert: make_alert,
    AlertRule: make_alert_rule,
    Webhook: make_webhook,
    ActionLogEntry: make_action,
    Incident: make_incident,
    Outcome: make_outcome,
    InterventionType: make_intervention,
    ActionAttachment: make_attachment,
    Area: lambda tenant: make_area(tenant, slug=f"area-{Area.objects.count() + 1}"),
    Event: lambda tenant: make_event(tenant, slug=f"event-{Event.objects.count() + 1}"),
    SharedTemplate: make_shared_template,
    SharingAgreement: lambda tenant: make_agreement(tenant),
    JointOperation: lambda tenant: make_operation(tenant),
}


def make_for_tenant(model, tenant: Tenant):
    """Create one object of ``model`` owned by ``tenant``."""
    try:
        maker = TENANT_OBJECT_MAKERS[model]
    except KeyError:
        raise LookupError(
            f"No maker for {model._meta.label} in tests/factories.py TENANT_OBJECT_MAKERS; add one so the "
            "generated cross-tenant test covers its routes."
        ) from None
    with scopes_disabled():
        return maker(tenant)
