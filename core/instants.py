"""The one reader of timestamps that come from outside: API fields and query parameters, pushed rows,
feeds and files.

ISO 8601 as Python reads it (``2026-07-04T14:05:00+02:00``, ``...Z``, a space for the ``T``, fractions),
surrounding blanks ignored. A time without offset is ambiguous across DST, so it is refused unless the
caller says what it means: ``naive_zone`` (a feed documented as Dutch local time, or UTC for DATEX II) or
``allow_naive`` (the caller decides and counts such times itself). Errors are :class:`InstantError`, a
``ValueError`` with a message a user can act on and a ``reason`` (``type``, ``format`` or ``naive``).

Times the platform wrote itself (stored ISO strings, task arguments) are read with ``fromisoformat``.
"""

from datetime import datetime, tzinfo

EXAMPLE = "2026-07-04T14:05:00+02:00"


class InstantError(ValueError):
    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


def parse_instant(value, *, naive_zone: tzinfo | None = None, allow_naive: bool = False) -> datetime:
    """``value`` as a datetime, aware unless ``allow_naive``; :class:`InstantError` when it cannot be read."""
    if not isinstance(value, str) or not value.strip():
        raise InstantError(f"Time {value!r} is not an ISO 8601 string.", "type")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InstantError(f"Time {value!r} is not ISO 8601 (e.g. {EXAMPLE}).", "format") from None
    if moment.tzinfo is None:
        if naive_zone is not None:
            return moment.replace(tzinfo=naive_zone)  # fold=0: the first of a repeated autumn hour
        if not allow_naive:
            raise InstantError(
                f"Time {value!r} has no time zone; add 'Z' or an offset such as '+02:00'.", "naive"
            )
    return moment


def instant_or_none(value, **options) -> datetime | None:
    """:func:`parse_instant`, or None when ``value`` cannot be read (a feed item that is then skipped)."""
    try:
        return parse_instant(value, **options)
    except InstantError:
        return None
