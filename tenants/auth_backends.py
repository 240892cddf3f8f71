"""The log-in lock-out at Django's authentication layer (rules in tenants.lockout).

``LockoutBackend`` comes first in ``AUTHENTICATION_BACKENDS``: while the user name or the address is
locked it ends the attempt (``PermissionDenied``) without the password being looked at, unless the
attempt carries the right password *and* a valid second-factor code (``otp_token``: the log-in form of a
locked account and the Django admin send it under that name; the token endpoint passes its ``otp``).
The signal receivers count failures and end the count on a complete log-in; ``LockoutMiddleware``
turns a refused page log-in into the 429 page.
"""

import ipaddress

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.core.exceptions import PermissionDenied

from . import lockout, mfa
from .audit import client_ip

REFUSED = "csm_login_refused"  # request attribute: the Refusal that ended this request's log-in
BYPASS_DEVICE = "csm_lockout_bypass_device"  # request attribute: the device that let a locked user in


def address_key(request) -> str | None:
    """The address counted for ``request``: IPv4 as is, IPv6 by its /64 (one subscriber's network)."""
    address = client_ip(request) if request is not None else None
    if address is None:
        return None
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _code(request, credentials: dict) -> str:
    code = credentials.get("otp_token")
    if code is None and request is not None and request.method == "POST":
        code = request.POST.get("otp_token", "")
    return str(code or "")


def _second_factor_device(username, password, code: str):
    """The device that accepts ``code`` when ``password`` is the user's; None otherwise."""
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None or not user.is_active or not password or not user.check_password(password):
        return None
    return mfa.device_for_code(user, code)


class LockoutBackend(BaseBackend):
    """Refuses attempts while locked (see the module docstring); never authenticates anyone itself."""

    def authenticate(self, request, username=None, password=None, **credentials):
        if request is None or not lockout.enabled():
            return None
        refusal = lockout.refusal(username=username, address=address_key(request))
        if refusal is None:
            return None  # the next backend checks the password
        code = _code(request, credentials)
        device = _second_factor_device(username, password, code) if code else None
        if device is not None:
            setattr(request, BYPASS_DEVICE, device)
            return None  # right password and a valid code: the next backend logs the user in
        setattr(request, REFUSED, refusal)
        raise PermissionDenied(refusal.message)

    def get_user(self, user_id):
        # Only reached for sessions that name this backend (Django's test client logs in with the first
        # backend): the user is the ModelBackend's.
        return ModelBackend().get_user(user_id)


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """Count a failed attempt. One refused by a lock in force counts for the address only."""
    username = credentials.get("username") or credentials.get(get_user_model().USERNAME_FIELD)
    refused = getattr(request, REFUSED, None) if request is not None else None
    caused = lockout.record_failure(username=None if refused else username, address=address_key(request))
    if caused is not None and request is not None and refused is None:
        setattr(request, REFUSED, caused)


def on_logged_in(sender, request, user, **kwargs) -> None:
    """A session log-in: confirm the second factor that let a locked user in; end the count when no
    second step follows (otherwise the code step ends it)."""
    device = getattr(request, BYPASS_DEVICE, None) if request is not None else None
    if device is not None:
        mfa.mark_verified(request, device)
    if device is not None or not mfa.second_factor_required(user):
        lockout.record_success(username=user.get_username())


class LockoutMiddleware:
    """A page log-in ended by a lock (now, or by this very failure) answers the 429 page or problem."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        refusal = getattr(request, REFUSED, None)
        if refusal is not None and not request.path_info.startswith("/api/"):
            return lockout.lockout_response(request, refusal)
        return response


def refused(request):
    """The Refusal that ended this request's log-in attempt, if any (Django or DRF request)."""
    return getattr(getattr(request, "_request", request), REFUSED, None)
