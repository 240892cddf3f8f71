"""Encryption at rest for source secrets (API keys, passwords), with rotatable keys.

``SOURCE_SECRET_KEYS`` lists Fernet keys, newest first: new secrets are encrypted with the first, any
listed key decrypts, so a key is rotated by prepending a new one and running
``manage.py rotate_source_secrets``. Without the setting a key is derived from SECRET_KEY.
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    keys = list(settings.SOURCE_SECRET_KEYS)
    if not keys:
        derived = hashlib.sha256(("csm-source-secrets:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt_secrets(values: dict) -> str:
    """Encrypt a mapping of secret values; an empty mapping is stored as an empty string."""
    if not values:
        return ""
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt_secrets(token: str) -> dict:
    """Decrypt what :func:`encrypt_secrets` produced. Raises ValueError when no configured key fits."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError(
            "Source secrets cannot be decrypted with the configured SOURCE_SECRET_KEYS."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    return _fernet().rotate(token.encode()).decode() if token else token
