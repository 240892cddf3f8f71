"""Views of the configuration package API: export, import, the published JSON Schema, the library."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.problems import problem, problem_response
from tenants.api.base import TenantGenericViewSet, TenantViewMixin
from tenants.choices import Capability

from .. import selectors, services
from ..models import SharedTemplate
from ..package import package_schema
from .serializers import (
    ConfigImportSerializer,
    ImportReportSerializer,
    InstantiateSerializer,
    PublishSerializer,
    SharedTemplateDetailSerializer,
    SharedTemplateSerializer,
)

PROBLEM = OpenApiResponse(description="RFC 7807 problem document with 'errors': [{path, message}].")


def _import_response(report: services.ImportReport) -> Response:
    """200 with the report; 400 problem listing every error (and what the rest would have done)."""
    if not report.errors:
        return Response(report.as_dict())
    first = report.errors[0]
    count = len(report.errors)
    body = problem(
        400,
        f"The package has {count} problem{'s' if count != 1 else ''}; nothing was imported. First: {first}",
        code="invalid_package",
        title="Invalid configuration package",
        errors=[e.as_dict() for e in report.errors],
    )
    body["report"] = report.as_dict()
    return Response(body, status=400, content_type="application/problem+json")


def _import_options(data: dict) -> dict:
    return {
        "dry_run": data["dry_run"],
        "geometry": data["geometry"],
        "geometries": data.get("geometries") or {},
        "secrets": data.get("secrets") or {},
        "settings": data["settings"],
    }


class ConfigPackageSchemaView(APIView):
    """The JSON Schema of configuration packages (public: the format is an open standard of the coalition)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, *args, **kwargs):
        return Response(package_schema())


class ConfigExportView(TenantViewMixin, APIView):
    """This tenant's configuration as one versioned package (admins). Secrets are never exported."""

    read_capability = Capability.MANAGE
    audit_object_type = "config_package"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "geometry", bool, description="false: leave area geometry out (default true).", required=False
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, *args, **kwargs):
        include = request.query_params.get("geometry", "true").lower() not in ("0", "false", "no")
        package = selectors.config_package_build(tenant=self.tenant, include_geometry=include)
        response = Response(package)
        stamp = timezone.now().strftime("%Y%m%d")
        # An attachment: a download in the browser, and an export in the audit trail.
        response["Content-Disposition"] = f'attachment; filename="csm-config-{self.tenant.slug}-{stamp}.json"'
        return response


class ConfigImportView(TenantViewMixin, APIView):
    """Import a package into this tenant (admins): a dry run by default; applying is all or nothing."""

    write_capability = Capability.MANAGE
    audit_object_type = "config_package"

    @extend_schema(
        request=ConfigImportSerializer,
        responses={200: ImportReportSerializer, 400: PROBLEM},
    )
    def post(self, request, *args, **kwargs):
        serializer = ConfigImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = services.config_import(
            tenant=self.tenant,
            actor=request.user,
            package=serializer.validated_data["package"],
            **_import_options(serializer.validated_data),
        )
        return _import_response(report)


class LibraryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The coalition library: templates that tenants shared, for every signed-in user to browse."""

    permission_classes = [permissions.IsAuthenticated]
    queryset = SharedTemplate.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SharedTemplate.objects.none()
        if self.action == "retrieve":
            return SharedTemplate.objects.all()
        return selectors.shared_template_list(
            q=self.request.query_params.get("q"), tag=self.request.query_params.get("tag")
        )

    def get_serializer_class(self):
        return SharedTemplateDetailSerializer if self.action == "retrieve" else SharedTemplateSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Text in name, slug or description.", required=False),
            OpenApiParameter("tag", str, description="Only templates with this tag.", required=False),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


@extend_schema(
    parameters=[OpenApiParameter("tenant", str, OpenApiParameter.PATH, description="Slug of the tenant.")]
)
class TenantLibraryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantGenericViewSet
):
    """This tenant's publications in the library: publish (POST), list, read, withdraw (DELETE); and
    ``instantiate/``: import any library template into this tenant."""

    model = SharedTemplate
    serializer_class = SharedTemplateSerializer
    write_capability = Capability.MANAGE
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_tenant_queryset(self):
        return selectors.shared_templates_of(tenant=self.tenant)

    @extend_schema(request=PublishSerializer, responses={201: SharedTemplateSerializer})
    def create(self, request, *args, **kwargs):
        """Publish this tenant's current configuration as a template (the same slug again: a new version)."""
        serializer = PublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.shared_template_publish(
            tenant=self.tenant, actor=request.user, **serializer.validated_data
        )
        return Response(SharedTemplateSerializer(template).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.shared_template_unpublish(template=instance, tenant=self.tenant, actor=self.request.user)

    @extend_schema(request=InstantiateSerializer, responses={200: ImportReportSerializer, 400: PROBLEM})
    @action(detail=False, methods=["post"])
    def instantiate(self, request, *args, **kwargs):
        """Import a library template into this tenant: a dry run by default, geometry kept, left out
        (``omit``) or re-placed per area (``geometries``); the report carries the template's provenance."""
        serializer = InstantiateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = selectors.shared_template_get(pk=serializer.validated_data["template"])
        if template is None:
            return problem_response(
                400,
                f"No template {serializer.validated_data['template']} in the library.",
                code="validation",
                errors={"template": ["No such template in the library."]},
            )
        report = services.config_import(
            tenant=self.tenant,
            actor=request.user,
            package=services.template_package(template),
            **_import_options(serializer.validated_data),
        )
        return _import_response(report)
