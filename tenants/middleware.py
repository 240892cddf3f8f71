"""Request layer for pages: tenant pages under /t/<slug>/ run inside that tenant's scope."""

import re
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_scopes import scopes_disabled

from . import audit
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
                if tenant is not None:
                    audit.audit_cross_tenant(request=request, tenant=tenant, reason="not a member")
                raise Http404("No such tenant.")
            request.tenant, request.membership = tenant, membership
            with audit.audit_request(request), tenant_scope(tenant):
                response = self.get_response(request)
                resolved = getattr(request, "resolver_match", None)
                url_name = (resolved.url_name if resolved else "") or ""
                audit.audit_page_response(request=request, response=response, url_name=url_name)
                return response
        if (
            request.path_info.startswith("/admin/")
            and request.user.is_authenticated
            and request.user.is_staff
        ):
            with scopes_disabled():
                response = self.get_response(request)
            audit.audit_admin_response(request=request, response=response)
            return response
        return self.get_response(request)


# Paths a logged-in user may reach before confirming a second factor: the log-in, two-factor and password
# pages, static files, the language switch, the public pages, the health probe, the token endpoint (it asks
# for the code itself) and the Django admin (django-otp's OTPAdminSite asks for the code itself).
MFA_EXEMPT_PREFIXES = (
    "/accounts/",
    "/static/",
    "/i18n/",
    "/p/",
    "/healthz",
    "/admin/",
    "/api/v1/auth/token/",
)
API_PREFIXES = ("/api/", "/sta/")


class MfaRequiredMiddleware:
    """Refuse pages and session-authenticated API calls until the session confirmed a second factor.

    Applies to users who need one (tenant admins, staff, members of tenants requiring it for all) and to
    users who set one up. Pages redirect to the code (or enrolment) page; API calls get a 403 problem.
    Calls with an API token pass: a token is only issued after the second factor.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from .mfa import is_verified, second_factor_required, user_has_totp, user_needs_mfa

        path = request.path_info
        user = request.user
        if (
            not user.is_authenticated
            or path.startswith(MFA_EXEMPT_PREFIXES)
            or is_verified(request)
            or not second_factor_required(user)
        ):
            return self.get_response(request)
        if path.startswith(API_PREFIXES):
            if request.headers.get("Authorization", "").startswith("Token "):
                return self.get_response(request)  # the token, not the session, authenticates this call
            from core.problems import PROBLEM_CONTENT_TYPE, problem

            body = problem(
                403,
                "Confirm your log-in with a code from your authenticator app first "
                "(/accounts/otp/verify/), or use an API token.",
                code="mfa_required",
            )
            return JsonResponse(body, status=403, content_type=PROBLEM_CONTENT_TYPE)
        target = "otp-verify" if user_has_totp(user) or not user_needs_mfa(user) else "otp-setup"
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
