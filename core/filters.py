"""Query-parameter filters of the list endpoints (django-filter), with the platform's own time rule.

``AwareDateTimeFilter`` reads times through ``core.instants``: a time without offset is refused with a
message instead of being read in the server's zone. A bad filter value answers 400 with the parameter
named (DjangoFilterBackend raises a ValidationError, the problem handler shapes it).
"""

from datetime import UTC

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.instants import InstantError, parse_instant


class AwareDateTimeFormField(forms.Field):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            moment = parse_instant(value)
        except InstantError as error:
            raise forms.ValidationError(error.message) from None
        try:
            # In UTC: PostgreSQL refuses offsets beyond +-15:59 that Python accepts (a 500 otherwise).
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(f"Time {value!r} is out of range.") from None


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareDateTimeFormField
