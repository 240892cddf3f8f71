"""Generated cross-tenant test: every API route with ``{tenant}`` in the OpenAPI schema is walked.

For each route and method, an admin of tenant A (every right) must get 404:
1. for tenant B's URL (B's slug, B's object ids), and
2. for B's object ids under A's own slug (the tenant scope must hide them),
and B's objects must be untouched afterwards. This holds with a sharing agreement in place too: B shares all
its areas and every kind of data with A (API tokens allowed), both are in a joint operation, and still none of B's routes answers A; shared
data reaches A only through A's own ``/shared/`` routes (tests/sharing). A GET of A's own object proves the route works, so a
404 cannot come from a broken route. New endpoints are covered without anyone adding a test; a route
whose model has no maker in tests/factories.py fails loudly.
"""

import re

import pytest
from django.urls import resolve
from django_scopes import scopes_disabled
from drf_spectacular.generators import SchemaGenerator

from areas.models import Area
from tests.factories import make_agreement, make_for_tenant, make_operation, member, token_for

METHODS = ("get", "post", "put", "patch", "delete")
PARAM = re.compile(r"{(\w+)}")


def _tenant_routes() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (path, method)
        for path, operations in sorted(schema["paths"].items())
        if "{tenant}" in path
        for method in METHODS
        if method in operations
    ]


TENANT_ROUTES = _tenant_routes()


def _model_of(path: str):
    """The model behind a route, from its view (``model`` attribute or queryset)."""
    probe = PARAM.sub(lambda m: "tenant-a" if m[1] == "tenant" else "1", path)
    view = resolve(probe).func
    cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
    model = getattr(cls, "model", None)
    if model is None and getattr(cls, "queryset", None) is not None:
        model = cls.queryset.model
    return model


def _fill(path: str, tenant_slug: str, obj) -> str:
    def value(match):
        name = match[1]
        if name == "tenant":
            return tenant_slug
        return str(obj.pk if name in ("id", "pk") else getattr(obj, name))

    return PARAM.sub(value, path)


def test_schema_has_tenant_routes():
    """The walk below is not vacuous: it sees the tenant routes that exist today."""
    paths = {path for path, _ in TENANT_ROUTES}
    assert "/api/v1/tenants/{tenant}/" in paths
    assert "/api/v1/tenants/{tenant}/members/{id}/" in paths


@pytest.mark.parametrize(
    ("path", "method"), TENANT_ROUTES, ids=[f"{m.upper()} {p}" for p, m in TENANT_ROUTES]
)
def test_member_of_a_gets_404_for_tenant_b(path, method, tenant_a, tenant_b, api):
    admin = member(tenant_a, "admin")
    member(tenant_b, "admin", username="b-admin")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(admin)}")
    model = _model_of(path)
    has_object = bool(set(PARAM.findall(path)) - {"tenant"})
    obj_a = make_for_tenant(model, tenant_a) if has_object else None
    obj_b = make_for_tenant(model, tenant_b) if has_object else None
    with scopes_disabled():
        b_areas = list(Area.objects.filter(tenant=tenant_b))
        make_agreement(tenant_b, tenant_a, areas=b_areas, token_access=True)
        # ... and both work one joint operation, to which B brought all its areas.
        operation = make_operation(tenant_b, tenant_a, slug="joint")
        make_agreement(tenant_b, areas=b_areas, operation=operation, recipient=None, token_access=True)

    response = getattr(api, method)(_fill(path, tenant_b.slug, obj_b), {}, format="json")
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/problem+json"

    if has_object:
        response = getattr(api, method)(_fill(path, tenant_a.slug, obj_b), {}, format="json")
        assert response.status_code == 404, response.content
        with scopes_disabled():
            assert model.objects.filter(pk=obj_b.pk).exists()

    if method == "get":
        own = api.get(_fill(path, tenant_a.slug, obj_a))
        assert own.status_code == 200, own.content
