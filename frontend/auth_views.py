"""Second log-in step and account security pages: confirm a code, set up an authenticator, backup codes.

The password step is Django's LoginView; tenants.middleware.MfaRequiredMiddleware sends a user who needs
(or set up) a second factor here before anything else.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY

from tenants import lockout, mfa
from tenants.auth_backends import address_key, refused
from tenants.lockout import lockout_response


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return "/"
    return target


def _credentials(request) -> dict:
    return {"username": request.user.get_username()}


def _refusal(request):
    """The lock (of the user name or the address) in force, or the one this request's failure caused."""
    return refused(request) or lockout.refusal(
        username=request.user.get_username(), address=address_key(request)
    )


def _count_failure(request) -> None:
    """A wrong code counts towards the lock-out like a wrong password (tenants.lockout)."""
    user_login_failed.send(sender=__name__, credentials=_credentials(request), request=request)


def _locked_out_response(request, refusal):
    response = lockout_response(request, refusal)
    logout(request)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request):
    """Second step of the log-in: a code from the authenticator app, or one of the backup codes."""
    next_url = _next_url(request)
    if mfa.is_verified(request):
        return redirect(next_url)
    if not mfa.user_has_totp(request.user) and not mfa.backup_codes_left(request.user):
        return redirect(_url("otp-setup", next_url))
    error = None
    if request.method == "POST":
        if refusal := _refusal(request):
            return _locked_out_response(request, refusal)
        device = mfa.device_for_code(request.user, request.POST.get("code", ""))
        if device is not None:
            mfa.mark_verified(request, device)
            lockout.record_success(username=request.user.get_username())
            return redirect(next_url)
        _count_failure(request)
        if refusal := _refusal(request):
            return _locked_out_response(request, refusal)
        error = _("That code is not valid. Codes change every 30 seconds and work once.")
    return render(request, "registration/otp_verify.html", {"next": next_url, "error": error}, status=200)


@login_required
@require_http_methods(["GET", "POST"])
def otp_setup(request):
    """Set up an authenticator: scan the QR code (or type the secret), confirm with a code, get backup codes.

    A user who already has one must be verified in this session to replace it.
    """
    next_url = _next_url(request)
    has_factor = mfa.user_has_totp(request.user) or mfa.backup_codes_left(request.user)
    if has_factor and not mfa.is_verified(request):
        return redirect(_url("otp-verify", next_url))  # replacing a second factor needs the current one
    device = mfa.totp_device_pending(request.user)
    error = None
    if request.method == "POST":
        if refusal := _refusal(request):
            return _locked_out_response(request, refusal)
        codes = mfa.totp_device_confirm(user=request.user, device=device, code=request.POST.get("code", ""))
        if codes is not None:
            device.refresh_from_db()
            mfa.mark_verified(request, device)
            lockout.record_success(username=request.user.get_username())
            return render(request, "registration/otp_backup_codes.html", {"codes": codes, "next": next_url})
        _count_failure(request)
        error = _("That code is not valid. Check the time on your phone and try the current code.")
    context = {
        "next": next_url,
        "error": error,
        "qr": mfa.totp_qr_data_uri(device),
        "secret": mfa.totp_secret_base32(device),
        "required": mfa.user_needs_mfa(request.user),
    }
    return render(request, "registration/otp_setup.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def account_security(request):
    """The member's own account security: authenticator status, new backup codes, remove the authenticator."""
    user = request.user
    required = mfa.user_needs_mfa(user)
    if request.method == "POST":
        if mfa.second_factor_required(user) and not mfa.is_verified(request):
            return redirect(_url("otp-verify", request.path))
        action = request.POST.get("action")
        if action == "backup-codes" and mfa.user_has_totp(user):
            codes = mfa.backup_codes_regenerate(user=user)
            return render(
                request, "registration/otp_backup_codes.html", {"codes": codes, "next": request.path}
            )
        if action == "remove" and not required:
            mfa.second_factor_remove(user=user)
            request.session.pop(DEVICE_ID_SESSION_KEY, None)
            messages.success(request, _("Two-factor authentication is off."))
            return redirect("account-security")
        messages.error(request, _("That change is not possible for your account."))
        return redirect("account-security")
    context = {
        "has_totp": mfa.user_has_totp(user),
        "backup_codes_left": mfa.backup_codes_left(user),
        "required": required,
        "verified": mfa.is_verified(request),
    }
    return render(request, "registration/account_security.html", context)


def _url(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"
