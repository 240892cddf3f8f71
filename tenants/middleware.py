"""Request layer for pages: tenant pages under /t/<slug>/ run inside that tenant's scope."""

import re

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django_scopes import scopes_disabled

from .scoping import tenant_scope
from .selectors import membership_get_active, tenant_get_active

TENANT_PAGE = re.compile(r"^/t/(?P<slug>[^/]+)/")


class TenantPageMiddleware:
    """Check membership for /t/<slug>/ pages and run the view in the tenant's scope (404 for non-members).

    The Django admin is the platform staff's cross-tenant surface and runs unscoped for staff only.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = TENANT_PAGE.match(request.path_info)
        if match:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            tenant = tenant_get_active(slug=match["slug"])
            membership = tenant and membership_get_active(user=request.user, tenant=tenant)
            if not membership:
                raise Http404("No such tenant.")
            request.tenant, request.membership = tenant, membership
            with tenant_scope(tenant):
                return self.get_response(request)
        if (
            request.path_info.startswith("/admin/")
            and request.user.is_authenticated
            and request.user.is_staff
        ):
            with scopes_disabled():
                return self.get_response(request)
        return self.get_response(request)
