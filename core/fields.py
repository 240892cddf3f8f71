"""Serializer fields shared by every app's API."""

from datetime import UTC, datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.instants import instant_or_none


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 timestamps that must carry a time zone: a naive time is ambiguous across DST, so 400.

    Only 1970 up to 2200: nothing in crowd safety happens before, far dates break in ways a client cannot
    see (before 1937 Dutch local time was UTC+00:19:32, an offset RFC 3339 cannot write), and the bound
    stays far ahead of any clock the platform will run on (issue 14: it used to stop at 2100).
    """

    default_error_messages = {
        "naive": "Timestamp {value!r} has no time zone; add 'Z' or an offset such as '+02:00'.",
        "range": "Timestamp {value!r} is out of range: use a time from 1970 up to 2200.",
    }
    earliest = datetime(1970, 1, 1, tzinfo=UTC)
    latest = datetime(2200, 1, 1, tzinfo=UTC)

    def to_internal_value(self, value):
        if isinstance(value, str):
            # Unreadable text (or month 13) is left to the parent, which reports the format.
            parsed = instant_or_none(value, allow_naive=True)
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive", value=value)
        moment = super().to_internal_value(value)
        if not self.earliest <= moment < self.latest:
            self.fail("range", value=value)
        return moment


@extend_schema_field(OpenApiTypes.STR)
class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """A slug reference to a tenant-owned model, looked up inside the active tenant scope at validation time.

    The queryset cannot be built at import time (no scope is active then), so it is built per request;
    a slug of another tenant's object is simply 'not found'.
    """

    def __init__(self, model, **kwargs):
        self.model = model
        self.queryset_filter = kwargs.pop("queryset_filter", None)
        kwargs.setdefault("slug_field", "slug")
        super().__init__(**kwargs)

    def get_queryset(self):
        if self.queryset_filter is not None:
            return self.queryset_filter(self)
        return self.model.objects.all()
