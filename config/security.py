"""Hardening pieces wired in settings: extra security headers, idle session expiry, the lock-out answer and
the relaxed Content Security Policy of the third-party API documentation pages."""

import time

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth import logout

PERMISSIONS_POLICY = "geolocation=(), camera=(), microphone=(), payment=(), usb=()"
LOGIN_AT_SESSION_KEY = "csm_login_at"
SEEN_AT_SESSION_KEY = "csm_seen_at"
SEEN_RESOLUTION = 60  # seconds: the last-seen time is written at most once a minute


class SecurityHeadersMiddleware:
    """Headers Django does not set itself: Permissions-Policy (no geolocation, camera or microphone)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class SessionExpiryMiddleware:
    """End a browser session after SESSION_IDLE_TIMEOUT seconds without a request, and SESSION_COOKIE_AGE
    seconds after log-in whatever the activity (Django's own expiry slides with every write).

    The dashboard polls the API while it is open, so an open dashboard counts as activity: a control-room
    screen stays logged in; a forgotten laptop tab that was closed does not.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            session = request.session
            login_at = session.setdefault(LOGIN_AT_SESSION_KEY, now)
            seen_at = session.get(SEEN_AT_SESSION_KEY, now)
            idle = settings.SESSION_IDLE_TIMEOUT
            if (idle and now - seen_at > idle) or now - login_at > settings.SESSION_COOKIE_AGE:
                logout(request)
            elif now - seen_at >= SEEN_RESOLUTION or SEEN_AT_SESSION_KEY not in session:
                session[SEEN_AT_SESSION_KEY] = now
        return self.get_response(request)


# Swagger UI and Redoc (drf-spectacular-sidecar, served from our own static files) set element styles with
# inline <style> blocks and style attributes, and Redoc runs a web worker from a blob: URL. These two pages
# get style-src 'unsafe-inline' and worker-src blob:; scripts stay 'self' only (Swagger UI runs in
# drf-spectacular's split mode, whose start-up script is a separate file).
docs_csp = csp_update({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})
