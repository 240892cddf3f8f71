"""Outgoing HTTP for connectors: the platform's egress client (core.egress), a size limit, errors.

Every fetch goes through :func:`core.egress.shared_client`, so the egress policy (no loopback,
private, link-local or reserved addresses unless EGRESS_ALLOW_NETWORKS allows them, checked per
redirect hop and pinned) holds for every connector and for "test connection". A fetch that gets no
answer says only "could not fetch" to the tenant, whatever the cause; the cause goes to the log.
"""

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from django.conf import settings

from core import egress

USER_AGENT = "CrowdSafetyManager/1.0 (open-source crowd safety platform)"
log = logging.getLogger("csm.egress")


# Query parameters whose values are credentials: masked in every message a fetch produces.
_CREDENTIAL_PARAM = re.compile(
    r"(?i)^(?:.*(?:key|token|secret|password|passwd|pwd|signature|auth).*|sig|code|client_id)$"
)


def safe_url(url: str) -> str:
    """``url`` fit for messages and logs: no user:password@, credential-like query values masked."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<invalid url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_CREDENTIAL_PARAM.match(k) for k, _ in pairs):
            query = urlencode([(k, "***" if _CREDENTIAL_PARAM.match(k) else v) for k, v in pairs], safe="*{}")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class HttpClient:
    """A thin httpx wrapper; raises sources.connectors.base.FetchError with a precise message."""

    def __init__(self, *, timeout: float | None = None, max_bytes: int | None = None, transport=None):
        self.timeout = timeout or settings.SOURCE_HTTP_TIMEOUT
        self.max_bytes = max_bytes or settings.SOURCE_MAX_PAYLOAD_BYTES
        self.transport = transport

    def get(self, url: str, *, params=None, headers=None, accept_status=(200,)) -> httpx.Response:
        """GET ``url`` and read the body (bounded). A status outside ``accept_status`` raises FetchError."""
        from .connectors.base import FetchError

        shown = safe_url(url)
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))
        try:
            with (
                egress.client_for(self.transport, timeout=timeout) as client,
                client.stream("GET", url, params=params, headers=all_headers, timeout=timeout) as response,
            ):
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(
                            f"{shown} sent more than {self.max_bytes // (1024 * 1024)} MiB; stopped."
                        )
                    chunks.append(chunk)
                response._content = b"".join(chunks)  # what response.read() would set
        except httpx.DecodingError as exc:
            raise FetchError(f"{shown} sent a body that does not match its Content-Encoding: {exc}") from exc
        except (httpx.TransportError, httpx.TooManyRedirects) as exc:
            # One sentence for refused-by-policy, unknown host, refused connection and timeout alike, so
            # that "test connection" cannot map a network; the cause is for the operator's log.
            log.warning("fetch of %s failed: %s", shown, _masked(egress.cause(exc), url, shown))
            raise FetchError(
                f"{shown}: {egress.COULD_NOT_FETCH} (no answer within {self.timeout:g} s, or the address "
                "is not reachable from the platform)."
            ) from exc
        except httpx.HTTPError as exc:
            log.warning("fetch of %s failed: %s", shown, _masked(egress.cause(exc), url, shown))
            raise FetchError(f"{shown}: {egress.COULD_NOT_FETCH} ({type(exc).__name__}).") from exc
        if response.status_code not in accept_status:
            # 4xx means the request itself is wrong (address, credentials): retrying soon will not help.
            retryable = response.status_code >= 500 or response.status_code in (408, 429)
            raise FetchError(
                f"{shown} answered HTTP {response.status_code} {response.reason_phrase}.".rstrip(),
                retryable=retryable,
            )
        return response


def _masked(exc: Exception, url: str, shown: str) -> str:
    """The exception's text with the raw URL (which httpx may quote) replaced by its safe form."""
    return str(exc).replace(str(url), shown)
