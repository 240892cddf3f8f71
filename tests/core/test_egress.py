"""The egress policy: one outgoing client, no loopback/private/link-local/reserved address unless allowed.

Each case here was an open door before the policy (issue 16, item 1): "test connection" fetched
loopback, the metadata address, IPv4-mapped IPv6 and decimal IP forms and read them back, followed
redirects to them, told "refused" from "timeout", and webhooks were not guarded at all.
"""

import ipaddress
import json
import socket
import threading

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from pytest_httpserver import HTTPServer

from core import egress
from incidents.delivery import post_event
from incidents.models import Webhook, WebhookEvent
from sources.connectors.base import FetchError
from sources.http import HttpClient
from tests.helpers import assert_problem

SOURCES = "/api/v1/tenants/tenant-a/sources/"
HOOKS = "/api/v1/tenants/tenant-a/webhooks/"

REFUSED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
    "224.0.0.1",
    "239.255.255.250",
    "192.0.2.10",  # documentation
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
]
PUBLIC = ["8.8.8.8", "145.97.39.155", "2001:4860:4860::8888", "2a00:1450:400e:80c::200e"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert not egress.address_allowed(address, networks=[])


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert egress.address_allowed(address, networks=[])


def test_an_operator_allowlist_opens_exactly_its_networks():
    networks = [ipaddress.ip_network("10.20.0.0/16")]
    assert egress.address_allowed("10.20.3.4", networks=networks)
    assert egress.address_allowed("::ffff:10.20.3.4", networks=networks)  # the same host, mapped
    assert not egress.address_allowed("10.21.0.1", networks=networks)
    assert not egress.address_allowed("127.0.0.1", networks=networks)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
    ],
)
def test_numeric_spellings_are_read_as_the_address_they_mean(host, address, sealed):
    assert egress.literal_address(host) == ipaddress.ip_address(address)
    assert egress.refused_host(host) is not None


@pytest.fixture
def sealed(settings):
    """The production default: nothing but public addresses."""
    settings.EGRESS_ALLOW_NETWORKS = []


def _try(client, url):
    body = {
        "kind": "generic_json",
        "config": {"url": url, "key": "id", "time": "t", "value": "v", "metric": "people_count"},
    }
    return client.post(f"{SOURCES}test/", body, format="json")


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/counts",
        "http://localhost:{port}/counts",
        "http://2130706433:{port}/counts",
        "http://0x7f.1:{port}/counts",
        "http://[::ffff:127.0.0.1]:{port}/counts",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/counts",
    ],
)
def test_test_connection_refuses_internal_addresses_before_any_request(
    api_as, admin_a, httpserver, sealed, template
):
    httpserver.expect_request("/counts").respond_with_json([{"id": "x", "t": "2026-01-01T00:00:00Z", "v": 1}])
    response = _try(api_as(admin_a), template.format(port=httpserver.port))
    problem = assert_problem(response, 400)
    assert "may not reach" in json.dumps(problem["errors"])
    assert httpserver.log == []


def _resolving(monkeypatch, table: dict[str, list[str]]):
    """Make host names in ``table`` resolve to these addresses; count the look-ups."""
    real = socket.getaddrinfo
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            lookups.append(host)
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(egress.socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_a_name_that_resolves_to_loopback_is_refused_at_connection_time(httpserver, sealed, monkeypatch):
    _resolving(monkeypatch, {"feed.example.org": ["127.0.0.1"]})
    httpserver.expect_request("/counts").respond_with_data("secret")
    with pytest.raises(FetchError) as caught:
        HttpClient().get(f"http://feed.example.org:{httpserver.port}/counts")
    assert egress.COULD_NOT_FETCH in caught.value.message
    assert httpserver.log == []


def test_test_connection_to_a_name_inside_reads_nothing_back(
    api_as, admin_a, httpserver, sealed, monkeypatch
):
    _resolving(monkeypatch, {"counts.example.org": ["127.0.0.1"]})
    httpserver.expect_request("/counts").respond_with_json([{"id": "x", "t": "2026-01-01T00:00:00Z", "v": 1}])
    body = _try(api_as(admin_a), f"http://counts.example.org:{httpserver.port}/counts").json()
    assert body["ok"] is False and body["readings"] == [] and egress.COULD_NOT_FETCH in body["error"]
    assert httpserver.log == []


def test_refused_and_unreachable_look_the_same_to_the_tenant(httpserver, settings, monkeypatch):
    """No port scan: a closed port, a refused address and an unknown name give one sentence."""
    settings.EGRESS_ALLOW_NETWORKS = ["127.0.0.2/32"]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.2", 0))
        closed = probe.getsockname()[1]
    messages = []
    for url in (
        f"http://127.0.0.2:{closed}/x",  # allowed, connection refused
        f"http://127.0.0.1:{httpserver.port}/x",  # refused by the policy
        "http://no-such-host.invalid/x",  # does not resolve
    ):
        with pytest.raises(FetchError) as caught:
            HttpClient(timeout=2).get(url)
        messages.append(caught.value.message.split(": ", 1)[1])
    assert len(set(messages)) == 1, messages
    assert "refused" not in messages[0].lower()


@pytest.fixture
def second_loopback_server():
    """A feed server on 127.0.0.2: the allowed hop in redirect tests (127.0.0.1 stays refused)."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_each_redirect_hop_is_checked(httpserver, second_loopback_server, settings):
    settings.EGRESS_ALLOW_NETWORKS = ["127.0.0.2/32"]
    httpserver.expect_request("/internal").respond_with_data("internal secret")
    second_loopback_server.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.1:{httpserver.port}/internal"}
    )
    with pytest.raises(FetchError) as caught:
        HttpClient().get(second_loopback_server.url_for("/feed"))
    assert egress.COULD_NOT_FETCH in caught.value.message
    assert len(second_loopback_server.log) == 1
    assert httpserver.log == []  # the internal server was never contacted


def test_the_connection_goes_to_the_checked_address(second_loopback_server, settings, monkeypatch):
    """DNS is asked once per connection and the socket opens to that answer (no rebinding)."""
    settings.EGRESS_ALLOW_NETWORKS = ["127.0.0.2/32"]
    lookups = _resolving(monkeypatch, {"feed.example.org": ["127.0.0.2"]})
    second_loopback_server.expect_request("/feed").respond_with_data("ok")
    connected = []
    real_connect = socket.create_connection

    def create_connection(address, *args, **kwargs):
        connected.append(address[0])
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    response = HttpClient(transport=egress.guarded_transport()).get(
        f"http://feed.example.org:{second_loopback_server.port}/feed"
    )
    assert response.content == b"ok"
    assert lookups == ["feed.example.org"] and connected == ["127.0.0.2"]
    ((request, _),) = second_loopback_server.log
    assert request.headers["Host"] == f"feed.example.org:{second_loopback_server.port}"


def test_the_allowlist_is_what_lets_the_suite_reach_its_local_feeds(httpserver):
    httpserver.expect_request("/ok").respond_with_data("ok")
    assert HttpClient().get(httpserver.url_for("/ok")).content == b"ok"


def test_environment_proxies_are_not_used(httpserver, monkeypatch):
    """A proxy would fetch on the platform's behalf, past the policy."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    httpserver.expect_request("/direct").respond_with_data("direct")
    assert (
        HttpClient(transport=egress.guarded_transport()).get(httpserver.url_for("/direct")).content
        == b"direct"
    )


# --- webhooks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/",
        "http://localhost:8000/",
    ],
)
def test_a_webhook_to_an_internal_address_is_refused_when_saved(api_as, admin_a, sealed, url):
    problem = assert_problem(api_as(admin_a).post(HOOKS, {"name": "x", "url": url}, format="json"), 400)
    assert "may not reach" in json.dumps(problem["errors"]["url"])
    with scopes_disabled():
        assert not Webhook.objects.exists()


def test_a_webhook_whose_name_resolves_inside_is_not_delivered(
    api_as, admin_a, tenant_a, httpserver, sealed, monkeypatch
):
    _resolving(monkeypatch, {"hooks.example.org": ["127.0.0.1"]})
    created = api_as(admin_a).post(
        HOOKS, {"name": "x", "url": f"http://hooks.example.org:{httpserver.port}/hook"}, format="json"
    )
    assert created.status_code == 201, created.content
    httpserver.expect_request("/hook").respond_with_data("ok")
    with scopes_disabled():
        webhook = Webhook.objects.get()
        event = WebhookEvent.objects.create(
            tenant=tenant_a, type="webhook.test", source="test", subject="test", time=timezone.now()
        )
        delivery = post_event(webhook, event, attempt=1)
    assert not delivery.delivered and delivery.error.startswith(egress.COULD_NOT_FETCH)
    assert httpserver.log == []


def test_a_webhook_is_never_redirected(
    api_as, admin_a, tenant_a, httpserver, second_loopback_server, settings
):
    settings.EGRESS_ALLOW_NETWORKS = ["127.0.0.2/32", "127.0.0.1/32"]
    second_loopback_server.expect_request("/hook").respond_with_data(
        "", status=307, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    created = api_as(admin_a).post(
        HOOKS, {"name": "x", "url": second_loopback_server.url_for("/hook")}, format="json"
    )
    assert created.status_code == 201, created.content
    with scopes_disabled():
        event = WebhookEvent.objects.create(
            tenant=tenant_a, type="webhook.test", source="test", subject="t", time=timezone.now()
        )
        delivery = post_event(Webhook.objects.get(), event, attempt=1)
    assert delivery.status_code == 307 and not delivery.delivered
    assert httpserver.log == []


def test_the_shared_client_is_one_per_process_and_guarded():
    client = egress.shared_client()
    assert client is egress.shared_client()
    assert isinstance(client._transport._pool._network_backend, egress._GuardedBackend)
    other = []
    thread = threading.Thread(target=lambda: other.append(egress.shared_client()))
    thread.start()
    thread.join()
    assert other == [client]  # threads share it; forks (Celery pool) get their own by process id
