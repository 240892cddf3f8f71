"""Views of the tenants API: the caller's tenants, tenant settings, members and API tokens."""

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django_otp import user_has_device
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, permissions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .. import audit, lockout, mfa, selectors, services
from ..auth_backends import BYPASS_DEVICE, refused
from ..choices import Capability
from ..models import ApiToken, Membership, Tenant
from .base import TenantModelViewSet, TenantViewMixin, role_allows
from .serializers import (
    MembershipInviteResultSerializer,
    MembershipInviteSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    TenantSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)


class TenantListView(generics.ListAPIView):
    """The tenants you belong to, with your role in each. For a tenant where you are the integration
    (machine) account only ``slug``, ``name`` and ``role`` are given: it pushes counts, it does not read
    how the tenant is set up."""

    serializer_class = TenantSerializer
    queryset = Tenant.objects.none()

    def list(self, request, *args, **kwargs):
        memberships = selectors.memberships_of_user(user=request.user)
        token = request.auth
        if isinstance(token, ApiToken) and token.tenant_id is not None:
            memberships = [m for m in memberships if m.tenant_id == token.tenant_id]
        tenants = [m.tenant for m in memberships]
        page = self.paginate_queryset(tenants)
        roles = {m.tenant_id: m.role for m in memberships}
        context = self.get_serializer_context() | {"roles": roles}
        data = TenantSerializer(page, many=True, context=context).data
        for entry, tenant in zip(data, page, strict=True):
            if not role_allows(roles[tenant.pk], TenantDetailView.read_capability):
                for name in list(entry):
                    if name not in ("slug", "name", "role"):
                        del entry[name]
        return self.get_paginated_response(data)


class TenantDetailView(TenantViewMixin, generics.RetrieveUpdateAPIView):
    """One tenant's settings: members read them (not the integration account), admins change them."""

    serializer_class = TenantSerializer
    queryset = Tenant.objects.none()
    read_capability = (Capability.VIEW, Capability.EVENTS)
    write_capability = Capability.MANAGE

    def get_object(self):
        return self.tenant

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not self.is_schema_request():
            context["roles"] = {self.tenant.pk: self.membership.role}
        return context

    def perform_update(self, serializer):
        serializer.instance = services.tenant_update(
            tenant=self.tenant, actor=self.request.user, **serializer.validated_data
        )


class MembershipViewSet(TenantModelViewSet):
    """Members of the tenant. Admins invite (POST), change role or suspend (PATCH) and remove (DELETE)."""

    model = Membership
    serializer_class = MembershipSerializer
    read_capability = Capability.MEMBERS
    write_capability = Capability.MEMBERS
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_tenant_queryset(self):
        return selectors.membership_list(tenant=self.tenant)

    @extend_schema(request=MembershipInviteSerializer, responses={201: MembershipInviteResultSerializer})
    def create(self, request, *args, **kwargs):
        serializer = MembershipInviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.membership_invite(
            tenant=self.tenant, actor=request.user, **serializer.validated_data
        )
        membership = invitation.membership
        membership.user_created = invitation.user_created
        membership.set_password_url = invitation.set_password_url
        return Response(MembershipInviteResultSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MembershipUpdateSerializer, responses={200: MembershipSerializer})
    def partial_update(self, request, *args, **kwargs):
        membership = self.get_object()
        serializer = MembershipUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_update(
            membership=membership, actor=request.user, **serializer.validated_data
        )
        return Response(MembershipSerializer(membership).data)

    def perform_destroy(self, instance):
        services.membership_remove(membership=instance, actor=self.request.user)

    @extend_schema(request=None, responses={200: MembershipSerializer})
    @action(detail=True, methods=["post"])
    def unlock(self, request, *args, **kwargs):
        """End the member's log-in lock-out now (after too many failed attempts), and its failure count."""
        membership = self.get_object()
        services.membership_unlock(membership=membership, actor=request.user)
        return Response(MembershipSerializer(membership).data)


class TokenView(APIView):
    """Exchange a username and password for an API token (POST), or revoke the token in use (DELETE)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    def _is_login(self) -> bool:
        return getattr(self.request, "method", None) == "POST"

    def get_permissions(self):
        return [permissions.AllowAny()] if self._is_login() else [permissions.IsAuthenticated()]

    def get_authenticators(self):
        # Logging in ignores any credentials already sent, so a stale token cannot block getting a new one.
        return [] if self._is_login() else super().get_authenticators()

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: TokenResponseSerializer,
            400: OpenApiResponse(description="Wrong credentials or second-factor code"),
            429: OpenApiResponse(description="Too many attempts (throttled or locked out)"),
        },
        auth=[],
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # The plain Django request: the lock-out backend reads the address and flags a refusal on it. The
        # code goes along as otp_token, so a locked account still gets in with password and code.
        django_request = request._request
        user = authenticate(
            django_request,
            username=data["username"],
            password=data["password"],
            otp_token=data.get("otp", ""),
        )
        if refusal := refused(django_request):
            raise LockedOut(refusal)
        if user is None:
            raise _credentials_error("Unable to log in with these credentials.")
        if getattr(django_request, BYPASS_DEVICE, None) is None:  # the code was checked already otherwise
            _check_second_factor(django_request, user, data.get("otp", ""))
        lockout.record_success(username=user.get_username())
        tenant = None
        if data.get("tenant"):
            tenant = selectors.tenant_get_active(slug=data["tenant"])
            if tenant is None or selectors.membership_get_active(user=user, tenant=tenant) is None:
                if tenant is not None:
                    audit.audit_cross_tenant(request=request, tenant=tenant, actor=user, reason="token asked")
                raise _credentials_error(f"'{data['tenant']}' is not one of your tenants.", field="tenant")
        token, raw = services.api_token_issue(user=user, tenant=tenant, name=data.get("name", ""))
        audit.audit_token_login(request=request, user=user, token=token)
        body = {"token": raw, "expires_at": token.expires_at, "tenant": tenant.slug if tenant else None}
        return Response(TokenResponseSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        if isinstance(request.auth, ApiToken):
            services.api_token_revoke(token=request.auth)
            audit.audit_token_revoked(request=request, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LockedOut(exceptions.APIException):
    status_code = 429
    default_detail = "Too many failed log-in attempts; try again later."
    default_code = "locked_out"

    def __init__(self, refusal=None):
        super().__init__(refusal.message if refusal else None)
        self.wait = refusal.retry_after if refusal else None  # DRF sends it as Retry-After


def _check_second_factor(request, user, code: str) -> None:
    """Accounts with two-factor authentication must send the current code as ``otp``; a wrong one counts
    towards the lock-out like a wrong password."""
    if not mfa.second_factor_required(user):
        return
    if not user_has_device(user, confirmed=True):
        raise _credentials_error(
            "This account needs two-factor authentication: set up an authenticator at "
            "/accounts/otp/setup/ first.",
            field="otp",
        )
    if not code:
        raise _credentials_error("Send the current code of your authenticator app as 'otp'.", field="otp")
    if mfa.device_for_code(user, code) is None:
        credentials = {"username": user.get_username()}
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if refusal := refused(request):
            raise LockedOut(refusal)
        raise _credentials_error("That code is not valid.", field="otp")


def _credentials_error(message: str, field: str = "non_field_errors"):
    from rest_framework.exceptions import ValidationError

    return ValidationError({field: [message]})
