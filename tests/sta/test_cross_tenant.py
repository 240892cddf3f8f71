"""Generated cross-tenant test over every SensorThings entity set, entity and navigation path.

The paths come from the entity registry (``sta.entities.ENTITY_TYPES``), so a new entity set or
navigation property is covered without anyone adding a test. An admin of tenant A (every right) must
get 404 for tenant B's slug and for B's ids under A's own slug; A's own ids answer 200, so a 404 cannot
come from a broken route. This holds with sharing in place: B shares all its areas and every kind of data
with A (tokens allowed) and both work one joint operation B brought its areas into; shared data is never
served through SensorThings.
"""

import pytest
from django_scopes import scopes_disabled

from areas.models import Area
from sources.models import Observation
from sta.entities import ENTITY_TYPES
from tenants.choices import Role
from tenants.scoping import tenant_scope
from tests.factories import make_agreement, make_operation, make_series, member, token_for
from tests.sta.conftest import build_world

PATHS = [(name, None) for name in ENTITY_TYPES] + [
    (name, nav) for name, entity in ENTITY_TYPES.items() for nav in (None, *entity.navs)
]


def _ids(entity, tenant) -> set:
    with tenant_scope(tenant):
        return {entity.iot_id(row) for row in entity.queryset(tenant)}


@pytest.fixture
def two_worlds(tenant_a, tenant_b):
    a, b = build_world(tenant_a), build_world(tenant_b, prefix="b-")
    # A metric only B measures, so B has an ObservedProperty id that A lacks.
    make_series(tenant_b, key="b-weather", metric="temperature", source=b.parking, unit="°C")
    with scopes_disabled():
        b_areas = list(Area.objects.filter(tenant=tenant_b))
        assert b_areas, "B has areas to share"
        make_agreement(tenant_b, tenant_a, areas=b_areas, token_access=True)
        operation = make_operation(tenant_b, tenant_a, slug="joint")
        make_agreement(tenant_b, areas=b_areas, operation=operation, recipient=None, token_access=True)
    return a, b


@pytest.fixture
def admin_api(tenant_a, api):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(member(tenant_a, Role.ADMIN))}")
    return api


def test_registry_paths_are_walked():
    """Not vacuous: every entity set and every navigation property of today's registry is in the walk."""
    assert {name for name, _ in PATHS} == {
        "Things", "Locations", "Sensors", "Datastreams", "ObservedProperties", "Observations", "FeaturesOfInterest",
    }  # fmt: skip
    assert ("Datastreams", "Observations") in PATHS and ("Observations", "FeatureOfInterest") in PATHS


@pytest.mark.parametrize(("entity_set", "nav"), PATHS, ids=[f"{e}/{n or ''}" for e, n in PATHS])
def test_member_of_a_gets_404_for_tenant_b(entity_set, nav, two_worlds, tenant_a, tenant_b, admin_api):
    entity = ENTITY_TYPES[entity_set]
    ids_a, ids_b = _ids(entity, tenant_a), _ids(entity, tenant_b)
    only_b = sorted(ids_b - ids_a)
    assert only_b, f"the fixture gives B an own {entity.singular}"
    b_id, a_id = only_b[0], sorted(ids_a)[0]
    suffix = f"/{nav}" if nav else ""
    root_b, root_a = f"/sta/v1.1/tenants/{tenant_b.slug}", f"/sta/v1.1/tenants/{tenant_a.slug}"

    for url in (f"{root_b}/", f"{root_b}/{entity_set}", f"{root_b}/{entity_set}({b_id}){suffix}"):
        response = admin_api.get(url)
        assert response.status_code == 404, (url, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == 404

    response = admin_api.get(f"{root_a}/{entity_set}({b_id}){suffix}")
    assert response.status_code == 404, response.content

    listed = admin_api.get(f"{root_a}/{entity_set}", {"$top": 1000}).json()["value"]
    assert {e["@iot.id"] for e in listed} == ids_a  # A's own, none of B's

    own = admin_api.get(f"{root_a}/{entity_set}({a_id}){suffix}")
    assert own.status_code == 200, own.content


def test_writes_to_another_tenants_datastream_are_404(two_worlds, tenant_a, tenant_b, admin_api):
    _, b = two_worlds
    body = {"phenomenonTime": "2026-07-04T13:00:00Z", "result": 5}
    root_a, root_b = f"/sta/v1.1/tenants/{tenant_a.slug}", f"/sta/v1.1/tenants/{tenant_b.slug}"
    attempts = [
        (f"{root_b}/Observations", body | {"Datastream": {"@iot.id": b.cam_pier.pk}}),
        (f"{root_a}/Datastreams({b.cam_pier.pk})/Observations", body),
        (f"{root_a}/Observations", body | {"Datastream": {"@iot.id": b.cam_pier.pk}}),
        (
            f"{root_a}/CreateObservations",
            [
                {
                    "Datastream": {"@iot.id": b.cam_pier.pk},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [["2026-07-04T13:00:00Z", 5]],
                }
            ],
        ),
    ]
    for url, payload in attempts:
        response = admin_api.post(url, payload, format="json")
        assert response.status_code == 404, (url, response.content)
    with scopes_disabled():
        assert Observation.objects.filter(series=b.cam_pier).count() == 3


def test_token_limited_to_tenant_a_gets_404_in_b(two_worlds, tenant_a, tenant_b, api):
    user = member(tenant_a, Role.ANALYST)
    member(tenant_b, Role.ANALYST, username=user.username)  # a member of both tenants
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user, tenant_a)}")
    assert api.get(f"/sta/v1.1/tenants/{tenant_a.slug}/Things").status_code == 200
    assert api.get(f"/sta/v1.1/tenants/{tenant_b.slug}/Things").status_code == 404
