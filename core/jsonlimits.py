"""JSON with a nesting limit: every JSON document the platform reads goes through ``loads``.

Python's ``json`` module parses recursively, so 100,000 ``[`` in a request body end in a
``RecursionError`` (a 500) and a document a few hundred levels deep can still exhaust the stack of
code that walks it afterwards (the NUL guard, the audit scrubber, serializers). No real payload of the
platform is deeper than about a dozen levels (a GeoJSON MultiPolygon in a FeatureCollection is eight),
so documents deeper than ``JSON_MAX_DEPTH`` (default 64) are refused before they are parsed.

The check is a flat scan without recursion, linear in the size of the body and done in C (strings are
removed by a regular expression, so a ``[`` inside a string does not count; then a running sum over the
brackets); only a document that is too deep is scanned again in Python to say where. ``JSONTooDeepError`` is a
``json.JSONDecodeError``, so every caller that already reports malformed JSON reports this one the same
way, with line and column.
"""

import json
import re

import numpy as np
from django.conf import settings

DEFAULT_MAX_DEPTH = 64

# A whole string, escapes included; what is left of a lone quote afterwards starts an unterminated string.
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# A whole string or one bracket (or a lone quote), for finding where the limit is crossed.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEPS = bytes.maketrans(b"[]{}", bytes([1, 255, 1, 255]))  # +1 / -1 as int8
_OPEN = frozenset(b"[{")


class JSONTooDeepError(json.JSONDecodeError):
    """A JSON document nested deeper than the limit; ``pos``, ``lineno`` and ``colno`` say where."""

    def __init__(self, limit: int, doc: str, pos: int):
        self.limit = limit
        super().__init__(f"nested more than {limit} levels deep (at most {limit} are accepted)", doc, pos)


def max_depth() -> int:
    return getattr(settings, "JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)


def _utf8(data: str | bytes | bytearray) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    data = bytes(data)
    encoding = json.detect_encoding(data)
    if encoding == "utf-8":
        return data  # the bracket, quote and backslash bytes never occur inside a UTF-8 sequence
    try:
        return data.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data  # json.loads reports the encoding error itself


def depth_error(data: str | bytes | bytearray, limit: int | None = None) -> JSONTooDeepError | None:
    """The error for the first bracket that goes deeper than ``limit``, or None when the document is
    within it. Otherwise malformed documents are not judged here: the parser reports them."""
    limit = max_depth() if limit is None else limit
    raw = _utf8(data)
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return None  # the common case: too few brackets to be too deep
    # Fast, in C: drop the strings, cut at an unterminated one (the parser stops there), keep the brackets
    # and take the running sum of +1 / -1.
    stripped = _STRINGS.sub(b"", raw)
    quote = stripped.find(b'"')
    if quote >= 0:
        stripped = stripped[:quote]
    steps = np.frombuffer(stripped.translate(None, _NOT_BRACKETS).translate(_STEPS), dtype=np.int8)
    if not steps.size or int(np.cumsum(steps, dtype=np.int64).max()) <= limit:
        return None
    return _locate(raw, limit)


def _locate(raw: bytes, limit: int) -> JSONTooDeepError:
    """Where the limit is first crossed (only for documents known to cross it)."""
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if len(token) > 1:
            continue  # a whole string
        if token[0] in _OPEN:
            depth += 1
            if depth > limit:
                doc = raw.decode("utf-8", "replace")
                return JSONTooDeepError(limit, doc, len(raw[: match.start()].decode("utf-8", "replace")))
        elif token == b'"':
            break
        else:
            depth -= 1
    raise AssertionError("the fast scan found the limit crossed but the exact scan did not")


def check_depth(data: str | bytes | bytearray, limit: int | None = None) -> None:
    error = depth_error(data, limit)
    if error is not None:
        raise error


def loads(data: str | bytes | bytearray, **kwargs):
    """``json.loads`` that refuses documents nested deeper than ``JSON_MAX_DEPTH`` first."""
    check_depth(data)
    return json.loads(data, **kwargs)


def load(handle, **kwargs):
    return loads(handle.read(), **kwargs)
