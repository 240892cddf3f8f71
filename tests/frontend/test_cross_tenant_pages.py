"""Generated cross-tenant test for the pages: every page route with a tenant in its URL is walked.

The routes come from ``frontend.urls`` itself, so a new page is covered without anyone adding a test; a
route with a URL parameter this walk does not know fails loudly. For each route, a member of tenant A with
every right gets 404 for tenant B's page (GET and POST), B's objects under A's own slug are 404 too, and
B's page data never appears in A's own pages. This holds with sharing in place: B shares all its areas and
every kind of data with A, and both work one joint operation that B leads and to which B brought all its
areas. What A sees of B goes through A's own pages' shared layers and the API's ``/shared/`` routes
(tests/sharing), never through B's pages.
"""

import re

import pytest
from django.urls import URLPattern
from django_scopes import scopes_disabled

from areas.models import Area
from frontend import urls as page_urls
from frontend.views import SETTINGS_SECTIONS
from tests.factories import (
    TenantFactory,
    login,
    make_agreement,
    make_alert,
    make_area,
    make_operation,
    make_source,
    member,
)

PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
TENANT_PARAMS = {"tenant", "lead"}
KNOWN_PARAMS = TENANT_PARAMS | {"section", "operation_id", "slug"}


def _page_routes() -> list[tuple[str, str]]:
    """``(name, route)`` of every page whose URL names a tenant, one per settings section."""
    routes = []
    for pattern in page_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), f"frontend.urls includes {pattern}: walk it here too"
        route = str(pattern.pattern)
        params = set(PARAM.findall(route))
        if not params & TENANT_PARAMS:
            continue
        unknown = params - KNOWN_PARAMS
        assert not unknown, f"{route}: teach this walk the parameter(s) {sorted(unknown)}"
        if "section" in params:
            routes += [(f"{pattern.name}:{s}", route.replace("<slug:section>", s)) for s in SETTINGS_SECTIONS]
        else:
            routes.append((pattern.name, route))
    return routes


PAGE_ROUTES = _page_routes()


def _fill(route: str, tenant_slug: str, operation) -> str:
    def value(match):
        name = match[1]
        if name in TENANT_PARAMS:
            return tenant_slug
        return str(operation.pk if name == "operation_id" else operation.slug)

    return "/" + PARAM.sub(value, route)


def test_the_walk_sees_the_pages_that_exist_today():
    names = {name.split(":")[0] for name, _ in PAGE_ROUTES}
    assert {"tenant-home", "tenant-sources", "tenant-operation", "public-page", "public-operation"} <= names
    assert any(name == "tenant-settings-section:sharing" for name, _ in PAGE_ROUTES)


@pytest.fixture
def shared_world(tenant_a, tenant_b):
    """B with an area, a source with a secret URL and an open alert; an agreement B -> A for everything;
    a joint operation B leads with A in it; and an operation of B that A is not part of."""
    b_area = make_area(tenant_b, slug="b-secret-square", name="B Secret Square")
    make_source(
        tenant_b, kind="generic_json", secrets={"api_key": "b-secret-key"},
        config={"url": "https://vendor.example/b-secret-feed", "items": "data", "key": "id", "time": "t",
                "value": "v", "metric": "visitor_estimate", "api_key_header": "Authorization"},
    )  # fmt: skip
    make_alert(tenant_b)
    make_area(tenant_a, slug="a-square", name="A Square")
    with scopes_disabled():
        b_areas = list(Area.objects.filter(tenant=tenant_b))
        make_agreement(tenant_b, tenant_a, areas=b_areas, token_access=True)
        joint = make_operation(tenant_b, tenant_a, slug="joint")
        make_agreement(tenant_b, areas=b_areas, operation=joint, recipient=None, token_access=True)
        private = make_operation(
            tenant_b, TenantFactory(slug="tenant-c"), slug="private", name="B Private Op"
        )
    return {"b_area": b_area, "joint": joint, "private": private}


@pytest.mark.parametrize(("name", "route"), PAGE_ROUTES, ids=[name for name, _ in PAGE_ROUTES])
def test_member_of_a_gets_404_for_tenant_bs_pages(name, route, client, tenant_a, tenant_b, shared_world):
    login(client, member(tenant_a, "admin"))
    for operation in (shared_world["joint"], shared_world["private"]):
        url = _fill(route, tenant_b.slug, operation)
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "taken over"}).status_code == 404, url
    if "operation_id" in route and route.startswith("t/"):
        # B's operation that A is not part of, under A's own slug: the tenant scope hides it.
        assert client.get(_fill(route, tenant_a.slug, shared_world["private"])).status_code == 404
    with scopes_disabled():
        assert Area.objects.get(pk=shared_world["b_area"].pk).name == "B Secret Square"
    if route.startswith("t/"):
        own = client.get(_fill(route, tenant_a.slug, shared_world["joint"]))
        assert own.status_code == 200, own.content[:300]
        # A's own pages carry nothing of B's configuration or of an operation A is not part of.
        assert b"b-secret-feed" not in own.content and b"b-secret-key" not in own.content
        assert b"B Private Op" not in own.content
