"""Outgoing HTTP for connectors: timeouts, a size limit and errors a tenant can act on."""

import httpx
from django.conf import settings

USER_AGENT = "CrowdSafetyManager/1.0 (open-source crowd safety platform)"


class HttpClient:
    """A thin httpx wrapper; raises sources.connectors.base.FetchError with a precise message."""

    def __init__(self, *, timeout: float | None = None, max_bytes: int | None = None, transport=None):
        self.timeout = timeout or settings.SOURCE_HTTP_TIMEOUT
        self.max_bytes = max_bytes or settings.SOURCE_MAX_PAYLOAD_BYTES
        self.transport = transport

    def get(self, url: str, *, params=None, headers=None, accept_status=(200,)) -> httpx.Response:
        """GET ``url`` and read the body (bounded). A status outside ``accept_status`` raises FetchError."""
        from .connectors.base import FetchError

        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        try:
            with (
                httpx.Client(
                    timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                    follow_redirects=True,
                    transport=self.transport,
                ) as client,
                client.stream("GET", url, params=params, headers=all_headers) as response,
            ):
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(
                            f"{url} sent more than {self.max_bytes // (1024 * 1024)} MiB; stopped."
                        )
                    chunks.append(chunk)
                response._content = b"".join(chunks)  # what response.read() would set
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"{url} did not answer within {self.timeout:g} s ({type(exc).__name__})."
            ) from exc
        except httpx.DecodingError as exc:
            raise FetchError(f"{url} sent a body that does not match its Content-Encoding: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url} could not be reached: {exc}") from exc
        if response.status_code not in accept_status:
            # 4xx means the request itself is wrong (address, credentials): retrying soon will not help.
            retryable = response.status_code >= 500 or response.status_code in (408, 429)
            raise FetchError(
                f"{url} answered HTTP {response.status_code} {response.reason_phrase}.".rstrip(),
                retryable=retryable,
            )
        return response
