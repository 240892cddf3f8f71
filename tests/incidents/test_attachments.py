"""Action-log attachments: upload (type read from the content, size limit), listing, download, retention."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.attachments import attachments_purge
from incidents.models import ActionAttachment, WebhookEvent
from incidents.tasks import purge_old_attachments
from tenants.scoping import tenant_scope
from tests.factories import make_area, make_event, square
from tests.helpers import assert_problem

ACTIONS = "/api/v1/tenants/tenant-a/actions/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def entry(api_as, users, tenant_a):
    make_area(tenant_a, slug="pier")
    body = {"intervention": "stop-inflow", "areas": ["pier"], "started_at": "2026-07-04T15:00:00+02:00"}
    response = api_as(users["operator"]).post(ACTIONS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def upload(client, entry_id, content: bytes, name="photo.png", content_type="image/png"):
    return client.post(
        f"{ACTIONS}{entry_id}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        format="multipart",
    )


def test_upload_list_and_download(api_as, users, entry, settings):
    operator = api_as(users["operator"])
    created = upload(operator, entry["id"], PNG, name="../../etc/ingang pier.png")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["content_type"] == "image/png" and body["size"] == len(PNG)
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert body["filename"] == "ingang pier.png"  # no path from the client survives
    assert body["uploaded_by"] == users["operator"].username and body["entry"] == entry["id"]
    pdf = upload(operator, entry["id"], PDF, name="report.pdf", content_type="application/pdf").json()
    # listed on the entry, in the list and through the attachments route
    shown = api_as(users["analyst"]).get(f"{ACTIONS}{entry['id']}/").json()
    assert [a["filename"] for a in shown["attachments"]] == ["ingang pier.png", "report.pdf"]
    listed = api_as(users["analyst"]).get(ACTIONS).json()["results"][0]["attachments"]
    assert [a["id"] for a in listed] == [body["id"], pdf["id"]]
    assert len(api_as(users["analyst"]).get(f"{ACTIONS}{entry['id']}/attachments/").json()) == 2
    download = api_as(users["analyst"]).get(body["content"], HTTP_ACCEPT="image/png")
    assert download.status_code == 200
    assert download.content == PNG
    assert download["Content-Type"] == "image/png"
    assert (
        download["Content-Disposition"].startswith("attachment;")
        and "ingang pier.png" in download["Content-Disposition"]
    )
    assert download["X-Content-Type-Options"] == "nosniff"
    # stored under a random name below MEDIA_ROOT, not under the client's name
    with scopes_disabled():
        stored = ActionAttachment.objects.get(pk=body["id"]).file.name
    assert stored.startswith("attachments/") and stored.endswith(".png") and "pier" not in stored
    assert (Path(settings.MEDIA_ROOT) / stored).read_bytes() == PNG


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (b"<html><script>alert(1)</script></html>", "photo.png", "image/png"),  # lies about its type
        (b"GIF89a" + b"\x00" * 20, "anim.gif", "image/gif"),
        (b"MZ\x90\x00" + b"\x00" * 20, "tool.exe", "application/octet-stream"),
        (b"name,value\n=1+1,2\n", "list.csv", "text/csv"),
    ],
)
def test_other_types_are_415(api_as, users, entry, content, name, content_type):
    response = upload(api_as(users["operator"]), entry["id"], content, name=name, content_type=content_type)
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert "JPEG, PNG, WebP, PDF" in problem["detail"]
    with scopes_disabled():
        assert not ActionAttachment.objects.exists()


def test_too_large_is_413_and_nothing_is_stored(api_as, users, entry, settings, tmp_path):
    settings.ATTACHMENT_MAX_BYTES = 40
    problem = assert_problem(upload(api_as(users["operator"]), entry["id"], PNG), 413, "too_large")
    assert "at most 40 bytes" in problem["detail"]
    with scopes_disabled():
        assert not ActionAttachment.objects.exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_missing_or_empty_file_is_400(api_as, users, entry):
    operator = api_as(users["operator"])
    problem = assert_problem(
        operator.post(f"{ACTIONS}{entry['id']}/attachments/", {}, format="multipart"), 400
    )
    assert "file" in problem["errors"]
    problem = assert_problem(upload(operator, entry["id"], b""), 400)
    assert "file" in problem["errors"]
    problem = assert_problem(
        operator.post(f"{ACTIONS}{entry['id']}/attachments/", {"file": "x"}, format="json"), 415
    )


def test_rights(api_as, users, tenant_a, entry):
    assert_problem(upload(api_as(users["analyst"]), entry["id"], PNG), 403)
    attachment = upload(api_as(users["operator"]), entry["id"], PNG).json()
    # an organiser sees attachments of actions on the zones of its own events only
    event = make_event(tenant_a, slug="koningsdag", organisers=[users["organiser"].username])
    make_area(tenant_a, slug="coolsingel", kind="temporary", event=event, geometry=square(4.479, 51.921))
    organiser = api_as(users["organiser"])
    assert_problem(organiser.get(attachment["content"]), 404)
    assert_problem(upload(organiser, entry["id"], PNG), 404)
    own = organiser.post(
        ACTIONS,
        {"intervention": "stop-inflow", "areas": ["coolsingel"], "started_at": "2027-04-27T14:00:00+02:00"},
        format="json",
    ).json()
    mine = upload(organiser, own["id"], PDF, name="plan.pdf").json()
    assert organiser.get(mine["content"]).status_code == 200


@pytest.mark.clock
def test_retention_purge_deletes_old_attachments_with_their_files(
    api_as, users, tenant_a, tenant_b, entry, settings
):
    tenant_a.retention_days = 30
    tenant_a.save()
    old = upload(api_as(users["operator"]), entry["id"], PNG).json()
    recent = upload(api_as(users["operator"]), entry["id"], PDF, name="r.pdf").json()
    with scopes_disabled():
        ActionAttachment.objects.filter(pk=old["id"]).update(uploaded_at=timezone.now() - timedelta(days=31))
        files = {a.pk: Path(settings.MEDIA_ROOT) / a.file.name for a in ActionAttachment.objects.all()}
        WebhookEvent.objects.create(
            tenant=tenant_a, type="alert.opened", source="x", time=timezone.now() - timedelta(days=40)
        )
    purge_old_attachments.apply()  # fans out per tenant (eager in these tests)
    with scopes_disabled():
        assert list(ActionAttachment.objects.values_list("pk", flat=True)) == [recent["id"]]
        assert not WebhookEvent.objects.exists()
    assert not files[old["id"]].exists() and files[recent["id"]].exists()
    assert_problem(api_as(users["analyst"]).get(old["content"]), 404)
    with tenant_scope(tenant_a):
        assert attachments_purge(tenant=tenant_a) == {"attachments": 0, "webhook_events": 0}  # idempotent


def test_a_lost_file_answers_404(api_as, users, entry, settings):
    attachment = upload(api_as(users["operator"]), entry["id"], PNG).json()
    with scopes_disabled():
        (Path(settings.MEDIA_ROOT) / ActionAttachment.objects.get().file.name).unlink()
    problem = assert_problem(api_as(users["operator"]).get(attachment["content"]), 404)
    assert "gone" in problem["detail"]
