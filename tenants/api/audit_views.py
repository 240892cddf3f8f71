"""The audit-trail API: tenant admins read (and download) their tenant's trail."""

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins

from core.export import csv_response

from ..choices import Capability
from ..models import AuditEntry
from ..scoping import tenant_scope
from ..selectors import audit_entry_list
from .base import TenantGenericViewSet
from .serializers import AuditEntrySerializer, AuditQuerySerializer

CSV_MAX_ROWS = 100_000
CSV_COLUMNS = [
    "created_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object_label",
    "result",
    "ip_address",
    "user_agent",
    "request_id",
    "details",
]


def audit_csv_row(e: AuditEntry) -> list:
    """One entry as a CSV row (UTC time, details as JSON)."""
    return [
        e.created_at.isoformat(), e.actor_label, e.action, e.object_type, e.object_id, e.object_label,
        e.result, e.ip_address or "", e.user_agent, e.request_id, json.dumps(e.details, sort_keys=True),
    ]  # fmt: skip


class AuditEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet):
    """The tenant's audit trail, newest first: who did what, to which object, from where, with what result.

    Admins only. Filter by action prefix, actor, result, time window and object; ``format=csv`` downloads
    every matching entry (at most 100,000), and that download is itself recorded as ``export.audit``.
    """

    model = AuditEntry
    serializer_class = AuditEntrySerializer
    read_capability = Capability.AUDIT
    write_capability = Capability.AUDIT
    audit_object_type = "audit"

    def get_tenant_queryset(self):
        if self.action != "list":
            return audit_entry_list(tenant=self.tenant)
        params = AuditQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        filters = {k: v for k, v in params.validated_data.items() if k != "format"}
        return audit_entry_list(tenant=self.tenant, **filters)

    @extend_schema(
        parameters=[AuditQuerySerializer],
        responses={
            200: AuditEntrySerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV download (format=csv)"),
        },
    )
    def list(self, request, *args, **kwargs):
        if request.query_params.get("format") == "csv":
            entries = self.get_queryset()[:CSV_MAX_ROWS]
            return csv_response(
                f"audit-{self.tenant.slug}.csv",
                CSV_COLUMNS,
                lambda: (audit_csv_row(e) for e in entries.iterator(chunk_size=1000)),
                context=tenant_scope(self.tenant),
            )
        return super().list(request, *args, **kwargs)
