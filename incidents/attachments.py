"""Writes of action-log attachments (photos and documents) and the retention purge.

The type of an upload is read from its first bytes (JPEG, PNG, WebP or PDF), never taken from the client's
``Content-Type`` or file name. Files are stored under ``MEDIA_ROOT/attachments/<tenant id>/`` with random
names and are only ever served through the tenant-scoped API. Uploads must not show people identifiably
(see docs/api.md): the platform keeps no personal data.
"""

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from tenants.models import Tenant

from .models import ActionAttachment, ActionLogEntry, WebhookDelivery, WebhookEvent

ALLOWED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "application/pdf": "PDF"}


class UnsupportedAttachmentError(ValueError):
    """The upload is not one of the allowed types."""


class AttachmentTooLargeError(ValueError):
    """The upload is over ``ATTACHMENT_MAX_BYTES``."""


def sniff_type(head: bytes) -> str | None:
    """The media type from a file's first bytes, for the allowed types; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _clean_name(name: str) -> str:
    """The upload's own file name without any path or quotes, for Content-Disposition."""
    base = "".join(c for c in (name or "").replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    base = base.replace('"', "").strip() or "attachment"
    return base[-150:]


@transaction.atomic
def attachment_add(*, entry: ActionLogEntry, actor, upload) -> ActionAttachment:
    """Attach an uploaded file (a Django ``UploadedFile``) to an action log entry."""
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise AttachmentTooLargeError(
            f"The file is {upload.size:,} bytes; attachments may be at most {limit:,} bytes."
        )
    if upload.size == 0:
        raise ValidationError({"file": ["The file is empty."]})
    upload.seek(0)
    content_type = sniff_type(upload.read(16))
    if content_type is None:
        raise UnsupportedAttachmentError(
            f"Attach {', '.join(ALLOWED_TYPES.values())} files only; this file is none of these "
            f"(it was sent as '{getattr(upload, 'content_type', None) or 'unknown'}')."
        )
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    attachment = ActionAttachment(
        tenant=entry.tenant,
        entry=entry,
        filename=_clean_name(upload.name),
        content_type=content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        uploaded_by=actor,
        uploaded_at=timezone.now(),
    )
    attachment.file.save("upload", upload, save=False)  # the stored name comes from attachment_path
    try:
        attachment.save()
    except Exception:
        attachment.file.delete(save=False)  # no row, no file
        raise
    return attachment


def attachments_purge(*, tenant: Tenant, now: datetime | None = None) -> dict[str, int]:
    """Delete the tenant's attachments (rows and files) and webhook events with their delivery logs that are
    older than its retention period. Files go after the rows are gone (an orphan file is harmless; a row
    without its file would answer 404)."""
    cutoff = (now or timezone.now()) - timedelta(days=tenant.retention_days)
    old = ActionAttachment.objects.filter(tenant=tenant, uploaded_at__lt=cutoff)
    names = list(old.values_list("file", flat=True))
    with transaction.atomic():
        attachments = old.delete()[1].get(ActionAttachment._meta.label, 0)
        WebhookDelivery.objects.filter(tenant=tenant, created_at__lt=cutoff).delete()
        events = (
            WebhookEvent.objects.filter(tenant=tenant, time__lt=cutoff)
            .delete()[1]
            .get(WebhookEvent._meta.label, 0)
        )
    for name in names:
        default_storage.delete(name)
    return {"attachments": attachments, "webhook_events": events}
