"""The view that serves the OpenAPI document (kept apart from schema.py, which drf-spectacular imports
while its views module is still loading)."""

from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from .problems import PROBLEM_CONTENT_TYPE


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: YAML by default; JSON with ``?format=json`` or ``Accept: application/json``.

    DRF's own ``?format=`` switch (URL_FORMAT_OVERRIDE) is off platform-wide, because ``format`` is a
    parameter of the observation reads (json or csv); this view reads it itself.
    """

    FORMATS = {"json": OpenApiJsonRenderer, "yaml": OpenApiYamlRenderer}

    def perform_content_negotiation(self, request, force=False):
        wanted = request.query_params.get("format")
        if wanted is None:
            return super().perform_content_negotiation(request, force)
        renderer_class = self.FORMATS.get(wanted.lower())
        if renderer_class is None:
            if force:  # rendering the error itself: a JSON problem document
                return JSONRenderer(), PROBLEM_CONTENT_TYPE
            raise ValidationError({"format": [f"Unknown format {wanted!r}: use 'json' or 'yaml'."]})
        renderer = renderer_class()
        return renderer, renderer.media_type
