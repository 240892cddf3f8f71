"""Filters of the action log and incident lists (django-filter)."""

import django_filters

from core.filters import AwareDateTimeFilter

from ..choices import ActionStatus, IncidentKind
from ..models import ActionLogEntry, Incident


class ActionFilter(django_filters.FilterSet):
    area = django_filters.CharFilter(field_name="areas__slug", help_text="Entries for this area (slug).")
    intervention = django_filters.CharFilter(field_name="intervention__slug", help_text="Intervention slug.")
    status = django_filters.ChoiceFilter(choices=ActionStatus.choices)
    since = AwareDateTimeFilter(field_name="started_at", lookup_expr="gte", help_text="Started at or after.")
    until = AwareDateTimeFilter(field_name="started_at", lookup_expr="lt", help_text="Started before.")

    class Meta:
        model = ActionLogEntry
        fields: list[str] = []


class IncidentFilter(django_filters.FilterSet):
    area = django_filters.CharFilter(field_name="area__slug", help_text="Incidents in this area (slug).")
    kind = django_filters.ChoiceFilter(choices=IncidentKind.choices)

    class Meta:
        model = Incident
        fields: list[str] = []  # all declared above: generated filters would query the scoped managers
