"""The coalition library: configuration packages that a tenant shares with every other tenant."""

from django.db import models

from tenants.models import Tenant


class SharedTemplate(models.Model):
    """A configuration package published to the coalition library ("beach boulevard summer").

    Deliberately readable by every tenant, so it is not tenant-scoped (see ``tenant_scope_exempt``): the
    publishing tenant is kept as a nullable reference for "only the publisher may unpublish" plus name
    and slug snapshots, so the provenance survives a renamed or removed tenant. A shared package holds
    no secrets and no personal data (roles are counts only).
    """

    tenant_scope_exempt = (
        "coalition library: published on purpose for every tenant; holds no secrets or personal data, "
        "and writes go through the publishing tenant's scoped API (publisher checked explicitly)"
    )

    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    package = models.JSONField(help_text="The configuration package (csm-config-package), secrets left out.")
    format_version = models.CharField(max_length=10, help_text="Version of the package format, e.g. 1.0.")
    version = models.PositiveIntegerField(
        default=1, help_text="Template version: raised each time the publisher publishes this slug again."
    )
    includes_geometry = models.BooleanField(default=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Counts per section, area slugs.")
    publisher_tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    publisher_slug = models.CharField(max_length=50, help_text="Snapshot of the publishing tenant's slug.")
    publisher_name = models.CharField(max_length=200, help_text="Snapshot of the publishing tenant's name.")
    published_by = models.CharField(max_length=200, help_text="Display name of the person who published.")
    first_published_at = models.DateTimeField()
    published_at = models.DateTimeField(help_text="When this version was published.")

    class Meta:
        ordering = ["name", "publisher_name"]
        constraints = [
            models.UniqueConstraint(fields=["publisher_slug", "slug"], name="shared_template_unique_slug")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.publisher_name})"
