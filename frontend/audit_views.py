"""The audit-trail page for tenant admins (/t/<tenant>/settings/audit/): a filtered, paged table.

Server-rendered, no script: filters are a GET form, paging is links. The retention form POSTs here and goes
through ``tenant_update``, which records the change in the trail.
"""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tenants.api.serializers import AuditQuerySerializer
from tenants.choices import Capability, role_has
from tenants.models import AuditResult
from tenants.selectors import audit_entry_list
from tenants.services import tenant_update

from .views import SETTINGS_SECTIONS, _tenant_context

PAGE_SIZE = 50
FILTERS = ("action", "actor", "result", "since", "until", "object_type", "object_id")


def _retention_errors(request) -> list[str]:
    """Apply the retention form; the list of problems (empty when saved)."""
    try:
        days = int(request.POST.get("audit_retention_days", ""))
    except ValueError:
        return [_("Enter a whole number of days.")]
    try:
        tenant_update(tenant=request.tenant, actor=request.user, audit_retention_days=days)
    except ValidationError as exc:
        return [message for messages in exc.message_dict.values() for message in messages]
    return []


@login_required
def tenant_audit(request, tenant):
    """Who did what in this organisation: the audit trail with filters, paging and a CSV link."""
    if not role_has(request.membership.role, Capability.AUDIT):
        raise PermissionDenied(_("Only admins of this organisation may read its audit trail."))
    retention_errors = []
    if request.method == "POST":
        retention_errors = _retention_errors(request)
        if not retention_errors:
            return redirect("tenant-audit", tenant=request.tenant.slug)
    raw = {key: request.GET.get(key, "").strip() for key in FILTERS}
    params = AuditQuerySerializer(data={key: value for key, value in raw.items() if value})
    filter_errors = {}
    if params.is_valid():
        filters = {k: v for k, v in params.validated_data.items() if k != "format"}
        entries = audit_entry_list(tenant=request.tenant, **filters)
    else:
        filter_errors = {key: " ".join(str(m) for m in messages) for key, messages in params.errors.items()}
        entries = audit_entry_list(tenant=request.tenant).none()
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({key: value for key, value in raw.items() if value})
    context = _tenant_context(request)
    context.update(
        {
            "section": "audit",
            "sections": [(slug, title) for slug, (title, _capability) in SETTINGS_SECTIONS.items()],
            "section_title": _("Audit trail"),
            "config": {"page": "audit"},
            "page": page,
            "filters": raw,
            "filter_errors": filter_errors,
            "filter_query": query,
            "results": AuditResult.choices,
            "retention_errors": retention_errors,
            "retention_value": request.POST.get("audit_retention_days")
            if retention_errors
            else request.tenant.audit_retention_days,
        }
    )
    status = 400 if (retention_errors or filter_errors) else 200
    return render(request, "frontend/settings/audit.html", context, status=status)
