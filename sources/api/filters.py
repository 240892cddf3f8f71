"""Filters of the series list (django-filter)."""

import django_filters

from ..choices import Metric
from ..models import Series


class SeriesFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__slug", help_text="Series of this source (slug).")
    area = django_filters.CharFilter(field_name="area__slug", help_text="Series of this area (slug).")
    metric = django_filters.ChoiceFilter(choices=Metric.choices)

    class Meta:
        model = Series
        fields: list[str] = []  # all declared above: generated filters would query the scoped managers
