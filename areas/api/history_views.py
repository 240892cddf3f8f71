"""The areas' hourly history: people or passer-by flow per area and hour, with the level it implies."""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.api.base import TenantViewMixin
from tenants.choices import Capability

from .. import selectors
from ..history import MAX_HOURS, area_level_history
from ..levels import LEVELS
from ..models import Area


class AreaHistoryQuerySerializer(serializers.Serializer):
    hours = serializers.IntegerField(
        min_value=1, max_value=MAX_HOURS, default=25, help_text="Whole hours before the current one."
    )


class AreaHistoryPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField(help_text="Start of the hour.")
    people = serializers.FloatField(allow_null=True, help_text="Mean people present (people areas).")
    flow = serializers.FloatField(
        allow_null=True,
        help_text="Mean specific flow of the busiest counting line, persons/min/m (flow areas).",
    )
    density = serializers.FloatField(
        allow_null=True, help_text="People per m²; for a Weidmann flow area, the density estimate."
    )
    level = serializers.ChoiceField(choices=LEVELS, allow_null=True)


class AreaHistorySerializer(serializers.Serializer):
    slug = serializers.CharField()
    quantity = serializers.ChoiceField(choices=["people", "flow"])
    flow_method = serializers.CharField(allow_null=True)
    points = AreaHistoryPointSerializer(many=True)


class AreaHistoryResponseSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    areas = AreaHistorySerializer(many=True)


class AreaHistoryView(TenantViewMixin, APIView):
    """The last hours of every area the member may see: per whole hour its mean people present or, for an
    area counted only by counting lines, the specific flow of its busiest line (persons/min/m), and the
    level that implies. By the status fusion rule over hourly means, as the forecasts are trained; the
    dashboard's time slider shows it. Needs the view right, as the observations do."""

    model = Area
    read_capability = Capability.VIEW

    @extend_schema(
        operation_id="tenants_areas_history_retrieve",
        parameters=[AreaHistoryQuerySerializer],
        responses={200: AreaHistoryResponseSerializer},
    )
    def get(self, request, *args, **kwargs):
        query = AreaHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        areas = list(selectors.area_list(membership=self.membership))
        start, end, histories = area_level_history(
            tenant=self.tenant, areas=areas, hours=query.validated_data["hours"]
        )
        body = {"start": start, "end": end, "areas": [asdict(h) for h in histories]}
        return Response(AreaHistoryResponseSerializer(body).data)
