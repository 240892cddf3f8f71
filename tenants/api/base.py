"""Base classes for every tenant API view: membership check, role rights, then the tenant's scope.

Order in each request: authenticate (401 without credentials) -> resolve ``{tenant}`` and the caller's
active membership (404 for an unknown tenant, a non-member, an inactive membership or a token limited
to another tenant) -> activate the tenant scope -> check the capability the action needs (403).
"""

from contextlib import ExitStack

from django.http import Http404
from rest_framework import mixins, permissions, viewsets
from rest_framework.exceptions import PermissionDenied

from .. import audit
from ..choices import Capability, role_has
from ..models import ApiToken
from ..scoping import tenant_scope
from ..selectors import membership_get_active, tenant_get_active


def role_allows(role: str, capability) -> bool:
    """None: any member; a capability; or a tuple of capabilities of which one suffices."""
    if capability is None:
        return True
    if isinstance(capability, tuple):
        return any(role_has(role, c) for c in capability)
    return role_has(role, capability)


class TenantViewMixin:
    """Mixin for views under ``/api/v1/tenants/{tenant}/``.

    Views declare ``read_capability`` (safe methods) and ``write_capability`` (others); an action can
    override both through ``action_capabilities``. ``None`` means: any active member; a tuple means
    any one of these (object-level checks then narrow it down, e.g. an organiser's own events).
    """

    read_capability: Capability | tuple[Capability, ...] | None = Capability.VIEW
    write_capability: Capability | tuple[Capability, ...] | None = Capability.MANAGE
    action_capabilities: dict[str, Capability | tuple[Capability, ...] | None] = {}
    permission_classes = [permissions.IsAuthenticated]

    def dispatch(self, request, *args, **kwargs):
        self._scope_stack = ExitStack()
        with audit.audit_request(request), self._scope_stack:
            try:
                return super().dispatch(request, *args, **kwargs)
            except Exception:
                # An unhandled error (500): the request's own transaction is gone, its entry is not.
                audit.audit_unhandled_error(view=self, request=self.request)
                raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if not self.is_schema_request():
            audit.audit_api_response(view=self, request=request, response=response)
            response["X-Request-ID"] = audit.request_id(request)  # the id in this request's audit entries
        return response

    def get_object(self):
        obj = super().get_object()
        # Names the object in the audit entry; taken now, because a delete clears the primary key.
        self._audit_object = (obj.pk, getattr(obj, "slug", "") or str(obj))
        return obj

    def check_permissions(self, request):
        super().check_permissions(request)  # 401 for anonymous callers
        context = audit.current_context()
        if context is not None:
            context.auth = request.auth
        tenant = tenant_get_active(slug=self.kwargs.get("tenant", ""))
        membership = tenant and membership_get_active(user=request.user, tenant=tenant)
        if not membership:
            if tenant is not None:
                audit.audit_cross_tenant(request=request, tenant=tenant, reason="not a member")
            raise Http404("No such tenant.")
        token = request.auth
        if isinstance(token, ApiToken) and token.tenant_id is not None and token.tenant_id != tenant.pk:
            audit.audit_cross_tenant(request=request, tenant=tenant, reason="token limited to another tenant")
            raise Http404("No such tenant.")
        request.tenant, request.membership = tenant, membership
        self._scope_stack.enter_context(tenant_scope(tenant))
        capability = self.required_capability(request)
        if not role_allows(membership.role, capability):
            raise PermissionDenied(
                f"Your role '{membership.role}' in {tenant.slug} does not allow this "
                f"({_describe(capability)} right needed)."
            )

    def has_capability(self, capability: Capability) -> bool:
        """Whether the caller's role in this tenant has ``capability``."""
        return role_has(self.membership.role, capability)

    def required_capability(self, request) -> Capability | tuple[Capability, ...] | None:
        action = getattr(self, "action", None)
        if action in self.action_capabilities:
            return self.action_capabilities[action]
        return self.read_capability if request.method in permissions.SAFE_METHODS else self.write_capability

    @property
    def tenant(self):
        return self.request.tenant

    @property
    def membership(self):
        return self.request.membership

    def is_schema_request(self) -> bool:
        """True while drf-spectacular introspects the view without a real request."""
        return getattr(self, "swagger_fake_view", False)


class TenantGenericViewSet(TenantViewMixin, viewsets.GenericViewSet):
    """A viewset inside one tenant; subclasses set ``model`` and implement ``get_tenant_queryset``."""

    model = None

    def get_queryset(self):
        if self.is_schema_request():
            return self.model.objects.none()
        return self.get_tenant_queryset()

    def get_tenant_queryset(self):
        raise NotImplementedError


class TenantModelViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    TenantGenericViewSet,
):
    """Create, read, update, delete and list inside one tenant."""


def _describe(capability) -> str:
    if isinstance(capability, tuple):
        return " or ".join(f"'{c}'" for c in capability)
    return f"'{capability}'"
