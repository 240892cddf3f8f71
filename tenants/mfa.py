"""Two-factor authentication (TOTP with django-otp): who needs it, enrolment, verification, backup codes.

Tenant admins, platform staff and the members of a tenant with ``mfa_required_for_all`` need a second
factor (integration accounts are machines and excluded from the per-tenant switch; they push with tokens).
A user who set up an authenticator voluntarily is asked for it too.
"""

import base64
import io
from binascii import unhexlify

import qrcode
import qrcode.image.svg
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp import verify_token as otp_verify_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from .choices import Role
from .models import Membership

TOTP_DEVICE_NAME = "authenticator"
BACKUP_DEVICE_NAME = "backup codes"
BACKUP_CODE_COUNT = 10

# The demo's fixed TOTP secret (hex; the authenticator app takes it as base32, see DEMO_TOTP_SECRET_BASE32).
# Only seed_demo uses it, and seed_demo refuses to run with DEBUG off.
DEMO_TOTP_KEY_HEX = b"csm-demo-totp-secret".hex()
DEMO_TOTP_SECRET_BASE32 = base64.b32encode(unhexlify(DEMO_TOTP_KEY_HEX)).decode()


def user_needs_mfa(user: AbstractBaseUser) -> bool:
    """True for platform staff, tenant admins and members of tenants that require a second factor of all."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    with scopes_disabled():
        return (
            Membership.objects.filter(user=user, is_active=True, tenant__is_active=True)
            .filter(Q(role=Role.ADMIN) | (Q(tenant__mfa_required_for_all=True) & ~Q(role=Role.INTEGRATION)))
            .exists()
        )


def user_has_totp(user: AbstractBaseUser) -> bool:
    """True when the user has a confirmed authenticator."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def second_factor_required(user: AbstractBaseUser) -> bool:
    """True when a log-in of this user must be confirmed with a code (required, or set up voluntarily)."""
    return user.is_authenticated and (user_has_device(user, confirmed=True) or user_needs_mfa(user))


def is_verified(request) -> bool:
    """True when the session's user confirmed a second factor in this session."""
    user = request.user
    return bool(getattr(user, "is_verified", None) and user.is_verified())


def totp_device_pending(user: AbstractBaseUser) -> TOTPDevice:
    """The user's unconfirmed authenticator being set up (created with a fresh random key when absent)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_secret_base32(device: TOTPDevice) -> str:
    """The secret as an authenticator app takes it when typed in (base32, no padding)."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI of ``device`` as a QR code: an SVG made on the server, as a data: URI for <img>."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@transaction.atomic
def totp_device_confirm(*, user: AbstractBaseUser, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm a pending authenticator with a code from it; returns new backup codes, or None if wrong."""
    if device.user_id != user.pk or device.confirmed or not device.verify_token(_digits(code)):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()  # one authenticator per user
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return backup_codes_regenerate(user=user)


@transaction.atomic
def backup_codes_regenerate(*, user: AbstractBaseUser) -> list[str]:
    """Replace the user's backup codes with BACKUP_CODE_COUNT new single-use ones and return them."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=BACKUP_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def backup_codes_left(user: AbstractBaseUser) -> int:
    """How many unused backup codes the user has."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def second_factor_remove(*, user: AbstractBaseUser) -> None:
    """Remove the user's authenticator and backup codes (only for users who do not need a second factor)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def device_for_code(user: AbstractBaseUser, code: str):
    """The confirmed device (authenticator first, then backup codes) that accepts ``code``, or None."""
    code = (code or "").strip().replace(" ", "")
    if not code:
        return None
    for device in list(devices_for_user(user, confirmed=True)):
        token = _digits(code) if isinstance(device, TOTPDevice) else code
        verified = otp_verify_token(user, device.persistent_id, token)
        if verified is not None:
            return verified
    return None


def mark_verified(request, device) -> None:
    """Record in the session that its user confirmed ``device`` (django-otp's session key)."""
    otp_login(request, device)


def _digits(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace())


# --- demo ---------------------------------------------------------------------------------------------


def demo_totp_device_ensure(user: AbstractBaseUser) -> TOTPDevice:
    """Give a demo user a confirmed authenticator with the documented demo secret (idempotent)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or device.key != DEMO_TOTP_KEY_HEX:
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(
            user=user, name=TOTP_DEVICE_NAME, key=DEMO_TOTP_KEY_HEX, confirmed=True
        )
    return device


def current_code(device: TOTPDevice) -> str:
    """The code ``device`` accepts now (for the demo_otp command and tests; the server never shows it)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    # A code is accepted once: after a log-in in this time step, the next step's code (tolerance 1) works.
    if totp.t() <= device.last_t:
        totp.time = totp.time + device.step * (device.last_t + 1 - totp.t())
    return f"{totp.token():0{device.digits}d}"
