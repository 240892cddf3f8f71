"""Sharing agreements: offer, accept, decline, end; bad input; audit on both sides; who may do what."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scopes_disabled

from sharing.models import SharingAgreement
from tenants.models import AuditEntry
from tests.factories import TenantFactory, make_agreement, make_area, member, token_for
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def admins(tenant_a, tenant_b):
    return member(tenant_a, "admin", username="a-admin"), member(tenant_b, "admin", username="b-admin")


@pytest.fixture
def areas_a(tenant_a):
    return [
        make_area(tenant_a, slug="kurhaus", tags=["boulevard"]),
        make_area(tenant_a, slug="pier", tags=["boulevard"]),
        make_area(tenant_a, slug="station"),
    ]


def _offer(api_as, user, tenant, **body):
    body.setdefault("recipient", "tenant-b")
    body.setdefault("areas", ["kurhaus"])
    body.setdefault("kinds", ["status", "alerts"])
    body.setdefault("purpose", "Koningsdag 2027: one picture of the boulevard")
    return api_as(user).post(f"/api/v1/tenants/{tenant.slug}/agreements/", body, format="json")


def _audit(tenant, action):
    with scopes_disabled():
        return list(AuditEntry.objects.filter(tenant=tenant, action=action).order_by("pk"))


def test_offer_accept_end_is_visible_and_audited_on_both_sides(api_as, tenant_a, tenant_b, admins, areas_a):
    admin_a, admin_b = admins
    response = _offer(api_as, admin_a, tenant_a, areas=["kurhaus"], area_tag="Boulevard", valid_to=None)
    assert response.status_code == 201, response.content
    offer = response.json()
    assert offer["side"] == "provider" and offer["status"] == "offered" and offer["state"] == "offered"
    assert offer["recipient"] == {"slug": "tenant-b", "name": "Gemeente B", "kind": "municipality"}
    assert [a["slug"] for a in offer["areas"]] == ["kurhaus", "pier"]  # chosen, plus the tagged one
    assert offer["kinds"] == ["status", "alerts"] and offer["offered_by"] == "a-admin"

    seen_by_b = api_as(admin_b).get(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/").json()
    assert seen_by_b["side"] == "recipient" and seen_by_b["status"] == "offered"
    assert [a["slug"] for a in seen_by_b["areas"]] == ["kurhaus", "pier"]  # what B is asked to accept
    assert seen_by_b["offered_by"] is None  # B sees the organisation, not A's people

    accepted = api_as(admin_b).post(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/accept/")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "active" and accepted.json()["responded_by"] == "b-admin"

    ended = api_as(admin_a).post(
        f"/api/v1/tenants/tenant-a/agreements/{offer['id']}/end/", {"reason": "Event over"}, format="json"
    )
    assert ended.status_code == 200, ended.content
    body = ended.json()
    assert (
        body["status"] == "ended" and body["ended_by_tenant"] == "tenant-a" and body["ended_by"] == "a-admin"
    )
    after = api_as(admin_b).get(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/").json()
    assert after["areas"] == [] and after["ended_by"] is None and after["end_reason"] == "Event over"

    for tenant in (tenant_a, tenant_b):
        for step, actor in (("offered", "a-admin"), ("accepted", "b-admin"), ("ended", "a-admin")):
            (entry,) = _audit(tenant, f"sharing.agreement.{step}")
            assert entry.actor_label == actor and entry.object_id == str(offer["id"])
            assert entry.details["provider"] == "tenant-a" and entry.details["recipient"] == "tenant-b"
    (offered,) = _audit(tenant_b, "sharing.agreement.offered")
    assert offered.details["areas"] == ["kurhaus"] and offered.details["area_tag"] == "Boulevard"


def test_the_recipient_declines_and_either_side_lists_by_side_and_status(
    api_as, tenant_a, tenant_b, admins, areas_a
):
    admin_a, admin_b = admins
    first = _offer(api_as, admin_a, tenant_a).json()
    second = _offer(api_as, admin_a, tenant_a, areas=["pier"]).json()
    declined = api_as(admin_b).post(
        f"/api/v1/tenants/tenant-b/agreements/{first['id']}/decline/", {"reason": "Not needed"}, format="json"
    )
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    for tenant in (tenant_a, tenant_b):
        (entry,) = _audit(tenant, "sharing.agreement.declined")
        assert entry.details["reason"] == "Not needed"

    listed = api_as(admin_b).get("/api/v1/tenants/tenant-b/agreements/?side=recipient&status=offered").json()
    assert [a["id"] for a in listed["results"]] == [second["id"]]
    assert api_as(admin_b).get("/api/v1/tenants/tenant-b/agreements/?side=provider").json()["count"] == 0
    assert api_as(admin_a).get("/api/v1/tenants/tenant-a/agreements/?status=declined").json()["count"] == 1
    assert_problem(api_as(admin_a).get("/api/v1/tenants/tenant-a/agreements/?status=later"), 400)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"recipient": "no-such-city"}, "recipient", "no active tenant 'no-such-city'"),
        ({"recipient": "tenant-a"}, "recipient", "cannot share with itself"),
        ({"areas": ["kurhaus", "b-square"]}, "areas", "tenant-a has no area 'b-square'"),
        ({"areas": []}, "areas", "Name the areas to share"),
        ({"kinds": []}, "kinds", ""),
        ({"kinds": ["everything"]}, "kinds", ""),
        ({"purpose": "  "}, "purpose", "may not be blank"),
        (
            {"valid_from": "2030-05-01T10:00:00+02:00", "valid_to": "2030-04-30T10:00:00+02:00"},
            "valid_to",
            "after",
        ),
        ({"valid_from": "2030-05-01T10:00:00", "valid_to": None}, "valid_from", "no time zone"),
        (
            {"valid_from": "2000-01-01T00:00:00Z", "valid_to": "2000-01-02T00:00:00Z"},
            "valid_to",
            "in the past",
        ),
    ],
)
def test_a_bad_offer_is_a_problem_naming_the_field_and_changes_nothing(
    api_as, tenant_a, tenant_b, admins, areas_a, body, field, words
):
    make_area(tenant_b, slug="b-square")  # another tenant's area is never "yours to share"
    response = _offer(api_as, admins[0], tenant_a, **body)
    problem = assert_problem(response, 400, "validation")
    assert field in problem["errors"], problem
    assert words in " ".join(problem["errors"][field])
    with scopes_disabled():
        assert not SharingAgreement.objects.exists()
    assert not _audit(tenant_a, "sharing.agreement.offered") and not _audit(
        tenant_b, "sharing.agreement.offered"
    )


def test_accepting_an_expired_offer_is_a_conflict_and_changes_nothing(
    api_as, tenant_a, tenant_b, admins, areas_a
):
    admin_a, admin_b = admins
    offer = _offer(
        api_as, admin_a, tenant_a, valid_to=(timezone.now() + timedelta(hours=2)).isoformat()
    ).json()
    with time_machine.travel(timezone.now() + timedelta(hours=3), tick=False):
        response = api_as(admin_b).post(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/accept/")
        problem = assert_problem(response, 409, "agreement_state")
        assert "expired" in problem["detail"]
        seen = api_as(admin_b).get(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/").json()
    assert seen["state"] == "offered" and seen["status"] == "expired"
    assert not _audit(tenant_b, "sharing.agreement.accepted")


def test_steps_out_of_order_or_by_the_wrong_side_are_refused(api_as, tenant_a, tenant_b, admins, areas_a):
    admin_a, admin_b = admins
    offer = _offer(api_as, admin_a, tenant_a).json()
    # The provider cannot accept its own offer.
    problem = assert_problem(
        api_as(admin_a).post(f"/api/v1/tenants/tenant-a/agreements/{offer['id']}/accept/"), 403
    )
    assert "tenant-b" in problem["detail"]
    assert (
        api_as(admin_b).post(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/accept/").status_code == 200
    )
    again = api_as(admin_b).post(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/accept/")
    assert "active" in assert_problem(again, 409, "agreement_state")["detail"]
    assert_problem(api_as(admin_b).post(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/decline/"), 409)
    assert api_as(admin_b).post(f"/api/v1/tenants/tenant-b/agreements/{offer['id']}/end/").status_code == 200
    assert_problem(api_as(admin_a).post(f"/api/v1/tenants/tenant-a/agreements/{offer['id']}/end/"), 409)
    for tenant in (tenant_a, tenant_b):
        assert len(_audit(tenant, "sharing.agreement.accepted")) == 1
        assert len(_audit(tenant, "sharing.agreement.ended")) == 1


@pytest.mark.parametrize("role", ["operator", "analyst", "organiser", "integration"])
def test_only_admins_offer_accept_and_end(api_as, tenant_a, tenant_b, admins, areas_a, role):
    user_a = member(tenant_a, role, username=f"a-{role}")
    user_b = member(tenant_b, role, username=f"b-{role}")
    assert_problem(_offer(api_as, user_a, tenant_a), 403)
    agreement = make_agreement(tenant_a, tenant_b, areas=areas_a[:1], state="offered")
    assert_problem(api_as(user_b).post(f"/api/v1/tenants/tenant-b/agreements/{agreement.pk}/accept/"), 403)
    assert_problem(api_as(user_a).post(f"/api/v1/tenants/tenant-a/agreements/{agreement.pk}/end/"), 403)
    agreement.refresh_from_db()
    assert agreement.state == "offered"


def test_a_third_tenant_never_sees_the_agreement(api_as, tenant_a, tenant_b, areas_a, api):
    agreement = make_agreement(tenant_a, tenant_b, areas=areas_a)
    tenant_c = TenantFactory(slug="tenant-c")
    admin_c = member(tenant_c, "admin", username="c-admin")
    client = api_as(admin_c)
    assert client.get("/api/v1/tenants/tenant-c/agreements/").json()["count"] == 0
    for suffix in ("", "accept/", "decline/", "end/"):
        method = client.get if not suffix else client.post
        assert_problem(method(f"/api/v1/tenants/tenant-c/agreements/{agreement.pk}/{suffix}"), 404)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(admin_c)}")
    assert_problem(api.get(f"/api/v1/tenants/tenant-a/agreements/{agreement.pk}/"), 404)


def test_an_area_named_in_an_agreement_is_archived_not_deleted(api_as, tenant_a, tenant_b, admins, areas_a):
    agreement = make_agreement(tenant_a, tenant_b, areas=areas_a[:1])
    response = api_as(admins[0]).delete(f"/api/v1/tenants/tenant-a/areas/{areas_a[0].pk}/")
    assert response.status_code in (200, 204), response.content
    with scopes_disabled():
        area = agreement.areas.get()
        assert area.slug == "kurhaus" and area.archived_at is not None  # the record of what was shared stays
