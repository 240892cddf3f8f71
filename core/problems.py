"""One JSON error shape for the whole API: RFC 7807 problem details with per-field ``errors``."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from django_scopes import ScopeError
from kombu.exceptions import OperationalError as BrokerUnavailableError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"
# Redis (cache, throttle counters) or the Celery broker unreachable, e.g. while Redis restarts: a retryable
# 503 instead of a 500. Work enqueued after a commit should use on_commit(..., robust=True), so that a
# broker outage cannot turn a committed write into an error (periodic fan-out picks the work up).
BACKEND_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, BrokerUnavailableError)
RETRY_AFTER_SECONDS = 5

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    status_code: int, detail: str, *, code: str | None = None, errors=None, title: str | None = None
) -> dict:
    """Build a problem document; ``type`` is a URN naming the problem kind."""
    body = {
        "type": f"urn:csm:problem:{code or 'error'}",
        "title": title or TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def _first_code(codes) -> str:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value)
    if isinstance(codes, list) and codes:
        return _first_code(codes[0])
    return "invalid"


def problem_exception_handler(exc, context):
    """DRF exception handler: every error leaves as ``application/problem+json``."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, ScopeError):
        # A query escaped its tenant scope: a programming error, never data for the caller.
        raise exc
    elif isinstance(exc, BACKEND_UNAVAILABLE):
        return backend_unavailable_response(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        count = sum(len(v) if isinstance(v, list) else 1 for v in data.values())
        body = problem(
            400,
            f"The request has {count} invalid field{'s' if count != 1 else ''}."
            if count
            else "Invalid input.",
            code="validation",
            title="Invalid input",
            errors=data,
        )
    else:
        detail = getattr(exc, "detail", str(exc))
        code = _first_code(exc.get_codes()) if isinstance(exc, exceptions.APIException) else "error"
        if isinstance(exc, Http404):
            code = "not_found"
        elif isinstance(exc, DjangoPermissionDenied):
            code = "permission_denied"
        body = problem(response.status_code, str(detail), code=code)
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def backend_unavailable_response(exc: Exception) -> Response:
    """503 with Retry-After for a cache or broker outage; the request's open transaction is rolled back."""
    logger.warning("Backing service unavailable, answering 503: %s: %s", type(exc).__name__, exc)
    set_rollback()
    response = problem_response(
        503,
        "A backing service (cache or message broker) is briefly unavailable. "
        f"Send the request again after {RETRY_AFTER_SECONDS} seconds.",
        code="service_unavailable",
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def is_api_request(request) -> bool:
    return request.path_info.startswith(("/api/", "/sta/"))


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: a problem document on API paths (Django's HTML page elsewhere)."""
    if is_api_request(request):
        return _json_problem(
            request,
            403,
            f"CSRF check failed ({reason.rstrip('.')}). A browser session must send the X-CSRFToken header "
            "with the value of the csrftoken cookie; API clients authenticate with 'Authorization: Token "
            "<token>' instead of a session.",
            "csrf_failed",
        )
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason=reason)


def _json_problem(request, status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse(
        problem(status_code, detail, code=code), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )


def handler400(request, exception=None):
    """Bad requests outside DRF (for example a body over DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    if is_api_request(request):
        from django.core.exceptions import RequestDataTooBig

        if isinstance(exception, RequestDataTooBig):
            return _json_problem(request, 413, str(exception), "too_large")
        return _json_problem(request, 400, str(exception) if exception else "Bad request.", "bad_request")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if is_api_request(request):
        return _json_problem(
            request, 403, "You do not have permission to perform this action.", "permission_denied"
        )
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    if is_api_request(request):
        return _json_problem(request, 404, "Not found.", "not_found")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if is_api_request(request):
        return _json_problem(request, 500, "The server failed; the error was logged.", "server_error")
    return defaults.server_error(request)


def problem_response(status_code: int, detail: str, *, code: str, errors=None) -> Response:
    """A DRF Response carrying a problem document (for views that answer errors themselves)."""
    return Response(
        problem(status_code, detail, code=code, errors=errors),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


__all__ = ["problem", "problem_exception_handler", "problem_response", "status"]


def api_not_found(request, *args, **kwargs):
    """Catch-all under /api/: unknown API paths answer a problem document, in DEBUG too."""
    return _json_problem(request, 404, f"No API endpoint at {request.path}.", "not_found")
