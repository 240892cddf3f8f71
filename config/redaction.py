"""A logging filter that keeps secrets and personal data out of every log record.

Installed on every handler in settings.LOGGING. It rewrites the formatted message (and the exception text)
of each record: Authorization headers, API tokens, passwords, secret and key fields, Fernet tokens,
user:password@ in URLs and credential-looking query parameters are replaced by ``[redacted]``; e-mail
addresses and IP addresses by ``[email]`` and ``[ip]``. Records are never dropped.
"""

import logging
import re

REDACTED = "[redacted]"

# Names of fields, parameters and headers whose values are secrets.
_SENSITIVE_NAMES = (
    r"password|passwd|pwd|secret|client_secret|api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|"
    r"token|authorization|signature|otp|sessionid|csrftoken|csrfmiddlewaretoken"
)

_PATTERNS: list[tuple[re.Pattern, str]] = [
    # Authorization: Token csm_..., Bearer ..., Basic ... (header lines, dict reprs, curl-like text)
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:token|bearer|basic)?\s*(?!\[)[^\s'\",}]+"),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b(token|bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # Our API tokens, wherever they appear.
    (re.compile(r"\bcsm_[A-Za-z0-9_-]{8,}"), REDACTED),
    # Fernet tokens (encrypted source secrets): version byte 0x80 base64url-encodes to "gAAAAA".
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),
    # user:password@host in URLs.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1" + REDACTED + "@"),
    # name=value / "name": "value" / name: value for secret-looking names (query strings, JSON, kwargs).
    (
        re.compile(rf"(?i)(\b(?:{_SENSITIVE_NAMES})\b['\"]?\s*[:=]\s*['\"]?)(?!\[)([^\s&'\",;}}\]]+)"),
        r"\1" + REDACTED,
    ),
    # Personal data: e-mail addresses, IPv4 and IPv6 addresses.
    (re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), "[email]"),
    (re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"), "[ip]"),
    (re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b"), "[ip]"),
    # Compressed IPv6 ("::" somewhere, hex digits and colons only), e.g. ::1 or 2001:db8::7.
    (
        re.compile(r"(?<![\w:])(?=[0-9A-Fa-f:]*::)(?=[0-9A-Fa-f:]*[0-9A-Fa-f])[0-9A-Fa-f:]{3,39}(?![\w:])"),
        "[ip]",
    ),
]


def redact(text: str) -> str:
    """``text`` with secrets and personal data replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Redact the message, its arguments and any exception text of every record passing the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log the template, still redacted
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
