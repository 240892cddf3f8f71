"""Reject NUL characters in API input with a 400 naming where they are, before any view sees them.

PostgreSQL stores no NUL (``\\x00``) in text or jsonb: a NUL that reached a query would fail there as
a server error (and SQLite would store it silently). DRF's ``CharField`` already refuses NUL, but path
segments (a tenant slug), query parameters (filters) and JSON fields (connector ``config``, GeoJSON
``properties``) would not, so one check at the edge covers every API view, present and future.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from core import jsonlimits

from .problems import PROBLEM_CONTENT_TYPE, problem

GUARDED_PREFIXES = ("/api/", "/sta/")
NUL_MESSAGE = "NUL characters (\\u0000) are not allowed."
JSON_TYPES = ("application/json", "application/geo+json", "application/merge-patch+json")


def _problem(status: int, detail: str, code: str, errors=None) -> JsonResponse:
    title = "Invalid input" if code == "validation" else None
    return JsonResponse(
        problem(status, detail, code=code, errors=errors, title=title),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _problem(
        413, f"The request body is larger than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).", "too_large"
    )


def nul_paths(value, prefix: str = "") -> list[str]:
    """Where in a parsed JSON document a key or a string holds NUL, as ``a.b[2].c`` paths."""
    found = []
    if isinstance(value, str):
        if "\x00" in value:
            found.append(prefix or "non_field_errors")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if "\x00" in str(key):
                found.append(path)
            else:
                found.extend(nul_paths(item, path))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(nul_paths(item, f"{prefix}[{index}]"))
    return found


class RejectNulMiddleware:
    """400 for NUL in the path, a query parameter, or a JSON/CSV body of an API call."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(GUARDED_PREFIXES):
            response = self.check(request)
            if response is not None:
                return response
        return self.get_response(request)

    def check(self, request) -> JsonResponse | None:
        if "\x00" in request.path_info:
            return _problem(400, f"The URL path contains a NUL character. {NUL_MESSAGE}", "bad_request")
        params = sorted(
            {key for key, value in request.GET.lists() if "\x00" in key or any("\x00" in v for v in value)}
        )
        if params:
            errors = {key.replace("\x00", "\\u0000"): [NUL_MESSAGE] for key in params}
            return _problem(400, "A query parameter contains a NUL character.", "validation", errors)
        content_type = request.content_type or ""
        if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") and not request.META.get("CONTENT_LENGTH"):
            return None
        if content_type not in JSON_TYPES and content_type != "text/csv":
            return None
        try:
            body = request.body
        except RequestDataTooBig:
            return _too_large()
        if content_type == "text/csv":
            if b"\x00" in body:
                return _problem(400, f"The CSV body contains a NUL byte. {NUL_MESSAGE}", "parse_error")
            return None
        if b"\\u0000" not in body and b"\x00" not in body:
            return None  # the common case: no escape that could decode to NUL, no parse needed
        try:
            document = jsonlimits.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None  # malformed JSON: the view's parser answers its own 400
        paths = nul_paths(document)
        if not paths:
            return None
        count = len(paths)
        return _problem(
            400,
            f"The request has {count} invalid field{'s' if count != 1 else ''}.",
            "validation",
            {path: [NUL_MESSAGE] for path in paths},
        )


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def deep_json_problem(error: jsonlimits.JSONTooDeepError) -> dict:
    return problem(
        400,
        f"The JSON body is {error.msg} (line {error.lineno}, column {error.colno}).",
        code="parse_error",
    )


class JsonLimitMiddleware:
    """400 for a JSON body nested deeper than ``JSON_MAX_DEPTH``, 413 for a body over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``, on every path, before any parser or guard reads it.

    Python's JSON parser recurses, so without this 100,000 ``[`` would be a RecursionError (500) in
    whichever view parsed them. A body counts as JSON when its content type says so or when it starts
    with ``[`` or ``{`` (the SensorThings and push endpoints read raw bodies); forms and CSV are left
    to their parsers, which do not recurse.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.check(request)
        return response if response is not None else self.get_response(request)

    def check(self, request) -> JsonResponse | None:
        if request.method in ("GET", "HEAD", "OPTIONS") and not request.META.get("CONTENT_LENGTH"):
            return None
        content_type = request.content_type or ""
        if content_type in FORM_TYPES or content_type == "text/csv":
            return None
        try:
            body = request.body
        except RequestDataTooBig:
            return _too_large()
        if content_type not in JSON_TYPES and body.lstrip()[:1] not in (b"[", b"{"):
            return None
        error = jsonlimits.depth_error(body)
        if error is None:
            return None
        return JsonResponse(deep_json_problem(error), status=400, content_type=PROBLEM_CONTENT_TYPE)
