"""SensorThings API views: the service root and every resource path under /sta/v1.1/tenants/{tenant}/.

Authentication, the membership check and the tenant scope are the REST API's (``TenantViewMixin``):
unknown tenant, non-member or a token of another tenant answer 404, another tenant's entity 404.
Reading needs the ``view`` capability, writing Observations the ``push`` capability (integration tokens,
limited to their sources like the push API). Errors are RFC 7807 problem documents that also carry the
SensorThings/FROST fields ``code`` and ``message`` (and ``position`` for query syntax errors).
"""

import json
from datetime import UTC

from django.db import DataError, transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core import jsonlimits
from core.problems import PROBLEM_CONTENT_TYPE, problem
from tenants.api.base import TenantViewMixin
from tenants.choices import Capability

from . import selectors, services
from .entities import ENTITY_TYPES
from .filters import QueryError
from .options import parse_options

CONFORMANCE = [
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
]


class RawBodyParser(BaseParser):
    """Hands the JSON body over unparsed: a malformed body is reported in the SensorThings error shape."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"body": stream.read() if stream else b""}


def _error_body(status: int, detail: str, *, code: str, **extra) -> dict:
    return problem(status, detail, code=code) | {"code": status, "message": detail} | extra


class StaView(TenantViewMixin, APIView):
    """Base: tenant membership and scope, problem errors with SensorThings fields."""

    read_capability = Capability.VIEW
    write_capability = Capability.PUSH
    renderer_classes = [JSONRenderer]
    parser_classes = [RawBodyParser]
    schema = None  # not part of the OpenAPI document: the SensorThings standard describes this API

    def get_throttles(self):
        if self.request.method == "POST":
            self.throttle_scope = "push"
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def handle_exception(self, exc):
        if isinstance(exc, QueryError):
            extra = {"position": exc.position} if exc.position is not None else {}
            return Response(
                _error_body(400, str(exc), code="bad_query", **extra),
                status=400,
                content_type=PROBLEM_CONTENT_TYPE,
            )
        if isinstance(exc, services.WriteError):
            body = _error_body(exc.status, exc.message, code="observation_rejected")
            if exc.errors is not None:
                body["errors"] = exc.errors
            return Response(body, status=exc.status, content_type=PROBLEM_CONTENT_TYPE)
        response = super().handle_exception(exc)
        if isinstance(response.data, dict) and "status" in response.data:
            response.data |= {"code": response.data["status"], "message": response.data.get("detail", "")}
        return response

    def context(self) -> selectors.Context:
        root = reverse("sta:root", kwargs={"tenant": self.tenant.slug})
        return selectors.Context(tenant=self.tenant, base=self.request.build_absolute_uri(root).rstrip("/"))

    def json_body(self, request):
        raw = request.data.get("body", b"") if isinstance(request.data, dict) else b""
        try:
            return jsonlimits.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise exceptions.ParseError(f"Malformed JSON: {exc}") from exc


class ServiceRootView(StaView):
    """The service root: the entity sets and the conformance classes served."""

    def get(self, request, tenant):
        base = self.context().base
        return Response(
            {
                "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_TYPES],
                "serverSettings": {"conformance": CONFORMANCE},
            }
        )


class ResourceView(StaView):
    """GET any resource path; POST Observations and CreateObservations."""

    def get(self, request, tenant, path):
        ctx = self.context()
        params = {key: request.query_params[key] for key in request.query_params if key.startswith("$")}
        options = parse_options(params)
        with timezone.override(UTC), transaction.atomic():  # time functions in UTC; a savepoint for DataError
            resource = selectors.resolve_path(path, ctx)
            try:
                if resource.property is not None:
                    return self._property(resource, ctx)
                if resource.single:
                    return Response(selectors.entity_document(resource, options, ctx))
                link = request.build_absolute_uri(request.path)
                return Response(selectors.collection_document(resource, options, ctx, link=link))
            except DataError as exc:
                raise QueryError(f"the database cannot evaluate this query ({exc})".strip()) from None

    def _property(self, resource, ctx):
        document = selectors.entity_document(resource, parse_options({}), ctx)
        name = "@iot.id" if resource.property == "id" else resource.property
        if name not in document:
            raise Http404(f"{resource.entity.singular} has no value for '{resource.property}'.")
        value = document[name]
        if resource.raw_value:
            text = value if isinstance(value, str) else json.dumps(value)
            return HttpResponse(text, content_type="text/plain; charset=utf-8")
        return Response({resource.property: value})

    def post(self, request, tenant, path):
        ctx = self.context()
        body = self.json_body(request)
        segments = [s for s in path.split("/") if s]
        if segments == ["CreateObservations"]:
            links = services.observations_create_array(
                tenant=self.tenant, token=request.auth, body=body, link=ctx.base
            )
            return Response(links, status=201)
        series = None
        if segments != ["Observations"]:
            if (
                len(segments) != 2
                or not segments[0].startswith("Datastreams(")
                or segments[1] != "Observations"
            ):
                raise exceptions.MethodNotAllowed(
                    "POST",
                    detail="POST goes to Observations, Datastreams(id)/Observations or CreateObservations.",
                )
            series = selectors.resolve_path(segments[0], ctx).queryset.first()
        status, pk = services.observation_create(
            tenant=self.tenant, token=request.auth, body=body, series=series
        )
        location = f"{ctx.base}/Observations({pk})"
        response = Response(
            selectors.entity_document(
                selectors.resolve_path(f"Observations({pk})", ctx), parse_options({}), ctx
            ),
            status=status,
        )
        response["Location"] = location
        return response


def not_found(request, *args, **kwargs):
    """Anything else under /sta/v1.1/: a problem document, never an HTML page."""
    detail = f"No SensorThings resource at {request.path}; the service roots are /sta/v1.1/tenants/<tenant>/."
    return JsonResponse(
        _error_body(404, detail, code="not_found"), status=404, content_type=PROBLEM_CONTENT_TYPE
    )
