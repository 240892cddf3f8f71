"""The platform's one way out: every outgoing HTTP request (feeds, source tests, webhooks) goes here.

The egress policy is enforced where the socket is opened, not where the URL is read, so that it holds
for every form of address and for every hop:

- the host name is resolved once and every address it gives is checked; the connection is then made
  to a checked address (pinned), so a second DNS answer cannot point elsewhere (no DNS rebinding);
- refused unless ``EGRESS_ALLOW_NETWORKS`` lets them through: loopback, private, link-local (the cloud
  metadata address 169.254.169.254), shared (100.64/10), multicast, unspecified, reserved and
  documentation ranges, and IPv6 forms that carry such an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
  IPv4-compatible ``::a.b.c.d``, 6to4, Teredo, NAT64). Numeric spellings such as ``2130706433`` or
  ``0x7f.1`` resolve to the address they mean and are checked as that address;
- redirects are followed by the client, and each hop opens its own checked connection;
- only ``http`` and ``https``; no proxies from the environment (a proxy would fetch on our behalf);
- a time limit per request and a size limit on what is read.

What the caller shows to a user is one uniform sentence (:data:`COULD_NOT_FETCH`) whatever the cause
(refused by policy, no such host, connection refused, timeout), so the platform cannot be used to scan
a network; the cause goes to the server log only.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import typing

import httpcore
import httpx
from django.conf import settings

log = logging.getLogger("csm.egress")

COULD_NOT_FETCH = "could not fetch"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressRefusedError(OSError):
    """The policy refuses every address the host name resolves to."""


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``EGRESS_ALLOW_NETWORKS`` parsed (validated at start-up by the settings)."""
    return [ipaddress.ip_network(n, strict=False) for n in settings.EGRESS_ALLOW_NETWORKS]


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def _public(address: Address) -> bool:
    inner = embedded_ipv4(address)
    if inner is not None:
        return _public(inner)
    return address.is_global and not address.is_multicast and not address.is_unspecified


def address_allowed(address: Address | str, networks=None) -> bool:
    """May the platform connect to ``address``? Public unicast, or inside an allowed network."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])
    networks = allowed_networks() if networks is None else networks
    candidates = [address] + ([inner] if (inner := embedded_ipv4(address)) is not None else [])
    if any(c in n for c in candidates for n in networks if c.version == n.version):
        return True
    return _public(address)


def literal_address(host: str) -> Address | None:
    """The address a URL host spells directly, in any notation (``127.1``, ``2130706433``, ``[::1]``)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:  # inet_aton accepts the historic forms: decimal, octal, hex, shortened dotted
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def check_url(url: str) -> str | None:
    """Why ``url`` can never be fetched, judged without DNS (scheme, literal address), or None.

    Used to refuse a webhook or feed address when it is saved; names are checked at connection time.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "is not a valid URL"
    if parsed.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parsed.host:
        return "has no host"
    return refused_host(parsed.host)


def refused_host(host: str) -> str | None:
    """Why the policy refuses ``host`` whatever DNS says (a literal address, localhost), or None."""
    address = literal_address(host)
    name = host.rstrip(".").lower()
    if address is None and (name == "localhost" or name.endswith(".localhost")):
        address = ipaddress.ip_address("127.0.0.1")
    if address is not None and not address_allowed(address):
        return (
            "points at an address the platform may not reach (loopback, private, link-local or reserved); "
            "an operator can allow a network with EGRESS_ALLOW_NETWORKS"
        )
    return None


class _GuardedBackend(httpcore.SyncBackend):
    """Resolve, check, then connect to the checked address itself (pinning it)."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        networks = allowed_networks()
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        addresses = []
        for _family, _type, _proto, _name, sockaddr in infos:
            ip = sockaddr[0]
            if ip not in addresses:
                addresses.append(ip)
        allowed = [ip for ip in addresses if address_allowed(ip, networks)]
        if not allowed:
            raise httpcore.ConnectError(
                f"egress policy refuses {host} ({', '.join(addresses)}); "
                "allow a network with EGRESS_ALLOW_NETWORKS if this is intended"
            ) from EgressRefusedError(host)
        last: Exception | None = None
        for ip in allowed:
            try:
                return super().connect_tcp(ip, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


def guarded_transport(*, limits: httpx.Limits | None = None) -> httpx.HTTPTransport:
    """An httpx transport whose every connection obeys the egress policy."""
    limits = limits or httpx.Limits(max_connections=50, max_keepalive_connections=10)
    transport = httpx.HTTPTransport(trust_env=False, limits=limits)
    # httpx has no public hook for the network backend; its pool reads this attribute per connection.
    transport._pool._network_backend = _GuardedBackend()
    return transport


_shared: dict[int, httpx.Client] = {}
_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """One pooled, guarded client per process (a Celery pool forks: never share sockets with a parent)."""
    pid = os.getpid()
    client = _shared.get(pid)
    if client is None:
        with _lock:
            client = _shared.get(pid)
            if client is None:
                client = httpx.Client(follow_redirects=True, trust_env=False, transport=guarded_transport())
                _shared[pid] = client
    return client


def cause(exc: BaseException) -> str:
    """The detail for the server log: the innermost message of an httpx/httpcore error chain."""
    parts = []
    while exc is not None and len(parts) < 4:
        text = f"{type(exc).__name__}: {exc}"
        if text not in parts:
            parts.append(text)
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(parts)


def client_for(transport=None, *, timeout: httpx.Timeout | float) -> typing.ContextManager[httpx.Client]:
    """The shared guarded client, or (tests, in-memory transports) a client around ``transport``."""
    from contextlib import nullcontext

    if transport is not None:
        return httpx.Client(timeout=timeout, follow_redirects=True, trust_env=False, transport=transport)
    return nullcontext(shared_client())
