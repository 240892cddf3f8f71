"""seed_demo's joint operation: Koningsdag Den Haag with the four demo organisations, and two agreements."""

from datetime import UTC, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django_scopes import scopes_disabled

from areas.models import Area
from sharing.demo import seed_joint_operation
from sharing.models import JointOperation, OperationDuty, OperationLogLink, SharingAgreement
from sharing.selectors import (
    agreements_active,
    operation_log,
    operation_participants,
    operation_public_get,
    operation_shared,
    shared_areas,
)
from tenants.models import AuditEntry, Membership, Tenant
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.slow  # seeds the whole demo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
KINGS_DAY = datetime(2027, 4, 27, 14, 30, tzinfo=AMSTERDAM)
ORGANISATIONS = {"den-haag", "rotterdam", "koningsdag-events", "politie-den-haag"}
BROUGHT_IN = {
    ("den-haag", "boulevard"), ("den-haag", "de-pier"), ("den-haag", "kurhausplein"),
    ("den-haag", "tramhaltes-kurhaus"), ("rotterdam", "coolsingel"), ("rotterdam", "erasmusbrug-noord"),
    ("koningsdag-events", "binnenrotte"), ("koningsdag-events", "schouwburgplein"),
    ("politie-den-haag", "scheveningen-haven"), ("politie-den-haag", "commandopost-kurhaus"),
}  # fmt: skip


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict:
    with scopes_disabled():
        return {
            "operations": JointOperation.objects.count(),
            "agreements": SharingAgreement.objects.count(),
            "log links": OperationLogLink.objects.count(),
            "duties": OperationDuty.objects.count(),
            "sharing audit": AuditEntry.objects.filter(action__startswith="sharing.").count(),
        }


def test_demo_shows_koningsdag_as_one_joint_operation(db, settings):
    """One test, as seeding is slow: the operation, its picture and log, the agreements, seeding again, and
    the next day's demo starting a new operation."""
    settings.DEBUG = True
    with time_machine.travel(KINGS_DAY, tick=True):
        output = seed()
        assert "joint operation Koningsdag Den Haag from 2027-04-27 06:00 to 2027-04-28 06:00" in output
        now = datetime.now(UTC)
        tenants = {t.slug: t for t in Tenant.objects.filter(slug__in=ORGANISATIONS)}
        police = tenants["politie-den-haag"]
        assert police.name == "Politie eenheid Den Haag" and police.kind == "police_unit"
        with scopes_disabled():
            assert Membership.objects.filter(
                tenant=police, user__username="politie-den-haag-operator"
            ).exists()
            police_areas = list(Area.objects.filter(tenant=police))
        assert {a.slug for a in police_areas} == {"scheveningen-haven", "commandopost-kurhaus"}
        assert all(4.25 < a.centroid_lon < 4.29 and 52.09 < a.centroid_lat < 52.12 for a in police_areas)

        with tenant_scope(tenants["den-haag"]):
            operation = JointOperation.objects.get(lead=tenants["den-haag"], slug="koningsdag")
            participants = {p.tenant.slug: (p.state, p.role) for p in operation_participants(operation)}
        assert operation.name == "Koningsdag Den Haag" and operation.public_page
        assert operation.status(now) == "running"
        assert operation.starts_at == datetime(2027, 4, 27, 6, 0, tzinfo=AMSTERDAM)
        assert operation.ends_at == datetime(2027, 4, 28, 6, 0, tzinfo=AMSTERDAM)
        assert participants == {
            "den-haag": ("joined", "lead"),
            "rotterdam": ("joined", "neighbouring city"),
            "koningsdag-events": ("joined", "organiser"),
            "politie-den-haag": ("joined", "police"),
        }
        assert operation_public_get(lead_slug="den-haag", slug="koningsdag") == operation

        # The operation's picture, read by rotterdam: every participant's areas, with their owner.
        with tenant_scope(tenants["rotterdam"]):
            picture = operation_shared(operation, reader=tenants["rotterdam"], kind=None)
        assert {(item.agreement.provider.slug, a.slug) for item in picture for a in item.areas} == BROUGHT_IN
        assert all(a.tenant_id == item.agreement.provider_id for item in picture for a in item.areas)
        kinds = {item.agreement.provider.slug: set(item.agreement.kinds) for item in picture}
        assert kinds["den-haag"] == {"status", "forecasts", "alerts", "action_log"}
        assert kinds["politie-den-haag"] == {"status", "forecasts", "alerts"}

        # The common log: entries of all four organisations, in the window, none in the future.
        with tenant_scope(tenants["politie-den-haag"]):
            rows, authors = operation_log(operation)
        assert {t.slug for t in authors} == ORGANISATIONS
        assert {r["tenant"] for r in rows} == ORGANISATIONS and len(rows) == 9
        assert all(operation.starts_at <= r["started_at"] <= now for r in rows)
        assert {r["author"] for r in rows} == {f"{slug}-operator" for slug in ORGANISATIONS}
        assert {"Police deployment", "Extra public transport", "Close an entrance"} <= {
            r["intervention"] for r in rows
        }
        with scopes_disabled():
            on_duty = set(
                OperationDuty.objects.filter(operation=operation).values_list("user__username", flat=True)
            )
        assert on_duty == {f"{slug}-operator" for slug in ORGANISATIONS}

        # The ordinary agreement den-haag -> koningsdag-events is active and shows den-haag's seafront.
        with tenant_scope(tenants["koningsdag-events"]):
            direct = [
                a
                for a in agreements_active(recipient=tenants["koningsdag-events"], kind="status")
                if a.operation_id is None
            ]
            assert [a.provider.slug for a in direct] == ["den-haag"]
            seafront = {a.slug for item in shared_areas(direct) for a in item.areas}
        assert seafront == {"boulevard", "de-pier", "kurhausplein"}

        # rotterdam -> den-haag has ended: nothing of rotterdam reaches den-haag but the operation's.
        with tenant_scope(tenants["den-haag"]):
            from_rotterdam = [
                a
                for a in agreements_active(recipient=tenants["den-haag"], kind=None)
                if a.provider.slug == "rotterdam"
            ]
            ended = SharingAgreement.objects.get(provider=tenants["rotterdam"], recipient=tenants["den-haag"])
        assert [a.operation_id for a in from_rotterdam] == [operation.pk]
        assert (
            ended.status(now) == "ended"
            and ended.end_reason
            and ended.ended_by_tenant == tenants["rotterdam"]
        )

        # Seeding again adds nothing.
        before = counts()
        again = seed()
        assert "joint operation Koningsdag Den Haag is running" in again
        assert counts() == before

    # The next morning the demo's operation is a new one; yesterday's is kept under a dated slug.
    with time_machine.travel(datetime(2027, 4, 28, 9, 15, tzinfo=AMSTERDAM), tick=True):
        with scopes_disabled():
            users = {
                slug: {
                    m.role: m.user for m in Membership.objects.filter(tenant=tenant).select_related("user")
                }
                for slug, tenant in tenants.items()
            }
        out = StringIO()
        seed_joint_operation(tenants=tenants, users_by_tenant=users, stdout=out)
        now = datetime.now(UTC)
        with tenant_scope(tenants["den-haag"]):
            today = JointOperation.objects.get(lead=tenants["den-haag"], slug="koningsdag")
            yesterday = JointOperation.objects.get(pk=operation.pk)
            rows, authors = operation_log(today)
            old_rows, _ = operation_log(yesterday)
        assert "kept as koningsdag-2027-04-27" in out.getvalue()
        assert yesterday.slug == "koningsdag-2027-04-27" and yesterday.status(now) == "over"
        assert len(old_rows) == 9
        assert today.pk != operation.pk and today.status(now) == "running"
        assert today.starts_at == datetime(2027, 4, 28, 6, 0, tzinfo=AMSTERDAM)
        assert {t.slug for t in authors} == ORGANISATIONS
        assert all(today.starts_at <= r["started_at"] <= now for r in rows)  # squeezed into the morning
        assert all(r["ended_at"] is None or r["ended_at"] <= now for r in rows)
        with tenant_scope(tenants["rotterdam"]):
            picture = operation_shared(today, reader=tenants["rotterdam"], kind=None)
        assert {(item.agreement.provider.slug, a.slug) for item in picture for a in item.areas} == BROUGHT_IN
        after = counts()
        assert after["operations"] == before["operations"] + 1
        assert after["agreements"] == before["agreements"] + 4  # today's contributions, no new agreement
