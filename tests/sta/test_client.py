"""A third-party SensorThings client (frost-sta-client, from PyPI) against the running server.

pytest-django's ``live_server`` serves the app on a real socket; the client authenticates with the
tenant's API token (``Authorization: Token ...``) through its own ``AuthHandler`` extension point.
"""

from datetime import UTC, datetime, timedelta
from io import StringIO

import frost_sta_client as fsc
import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_scopes import scopes_disabled
from frost_sta_client.model.ext.data_array_document import DataArrayDocument
from frost_sta_client.model.ext.data_array_value import DataArrayValue
from frost_sta_client.service.auth_handler import AuthHandler

from sources.models import Observation, Series, Source
from tenants.choices import Role
from tenants.models import Tenant
from tests.factories import member, token_for
from tests.sta.conftest import build_world

# frost-sta-client itself calls furl's deprecated ``pathstr`` (not our code); everything else stays an error.
pytestmark = pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning")


class TokenAuth(requests.auth.AuthBase):
    def __init__(self, token: str):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Token {self.token}"
        return request


class TokenAuthHandler(AuthHandler):
    """frost's handler gives HTTP basic auth; the platform's API takes its bearer tokens."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def add_auth_header(self):
        return TokenAuth(self.token)


def service_for(live_server, tenant, user) -> fsc.SensorThingsService:
    url = f"{live_server.url}/sta/v1.1/tenants/{tenant.slug}/"
    return fsc.SensorThingsService(url, auth_handler=TokenAuthHandler(token_for(user, tenant)))


@pytest.fixture
def client_world(transactional_db, tenant_a):
    return build_world(tenant_a)


def test_client_lists_every_entity_type(live_server, client_world, tenant_a):
    service = service_for(live_server, tenant_a, member(tenant_a, Role.ANALYST))
    world = client_world

    things = list(service.things().query().list())
    assert sorted(t.name for t in things) == ["Cameras Scheveningen", "Garage Kurhaus"]
    assert {t.properties["slug"] for t in things} == {"cameras", "parking"}

    sensors = list(service.sensors().query().list())
    assert {s.id for s in sensors} == {world.cameras.pk, world.parking.pk}
    assert all(s.encoding_type == "application/json" for s in sensors)

    locations = {loc.id: loc for loc in service.locations().query().list()}
    assert locations[world.parking.pk].location == {"type": "Point", "coordinates": [4.2772, 52.1104]}

    datastreams = {d.id: d for d in service.datastreams().query().list()}
    assert set(datastreams) == {world.cam_kurhaus.pk, world.cam_pier.pk, world.garage.pk}
    camera = datastreams[world.cam_kurhaus.pk]
    assert camera.unit_of_measurement.symbol == "{person}"
    assert camera.observation_type.endswith("OM_CountObservation")
    assert datastreams[world.garage.pk].unit_of_measurement.name == "parking space"

    properties = list(service.observed_properties().query().list())
    assert sorted(p.name for p in properties) == ["people present (occupancy)", "vacant parking spaces"]

    observations = list(service.observations().query().list())
    assert len(observations) == len(world.observations) == 11
    assert sorted(o.result for o in observations) == sorted(o.value for o in world.observations)

    features = {f.id: f for f in service.features_of_interest().query().list()}
    assert set(features) == {world.kurhaus.pk, world.pier.pk}
    assert features[world.pier.pk].feature["type"] == "Polygon"

    found = service.datastreams().find(world.garage.pk)
    assert found.name == "garage" and found.id == world.garage.pk


def test_client_expands_and_queries(live_server, client_world, tenant_a):
    service = service_for(live_server, tenant_a, member(tenant_a, Role.ANALYST))
    world = client_world

    things = (
        service.things()
        .query()
        .filter("name eq 'Cameras Scheveningen'")
        .expand(
            "Datastreams($orderby=id;$expand=Observations($orderby=phenomenonTime desc;$top=2)),Locations"
        )
        .list()
    )
    [thing] = list(things)
    assert [d.name for d in thing.datastreams] == ["Camera Kurhaus", "cam-pier"]
    latest = thing.datastreams.get(0).observations
    assert [o.result for o in latest.entities] == [90, 210]  # the two newest of Camera Kurhaus
    assert latest.next_link.endswith("$skip=2")
    assert [o.result for o in latest] == [90, 210, 180, 150, 120]  # iterating follows @iot.nextLink
    assert [loc.location["coordinates"] for loc in thing.locations] == [[4.273, 52.112]]

    datastreams = (
        service.datastreams().query().expand("Thing,ObservedProperty,Sensor").orderby("id", "asc").list()
    )
    by_id = {d.id: d for d in datastreams}
    assert by_id[world.garage.pk].thing.name == "Garage Kurhaus"
    assert by_id[world.garage.pk].observed_property.name == "vacant parking spaces"
    assert by_id[world.cam_pier.pk].sensor.id == world.cameras.pk

    high = (
        service.observations()
        .query()
        .filter("Datastream/ObservedProperty/name eq 'people present (occupancy)' and result ge 150")
        .orderby("result", "asc")
        .expand("FeatureOfInterest($select=name)")
        .list()
    )
    assert [(o.result, o.feature_of_interest.name) for o in high] == [
        (150, "Kurhausplein"), (180, "Kurhausplein"), (210, "Kurhausplein"),
    ]  # fmt: skip

    # Paging: two at a time, the client follows @iot.nextLink while iterating.
    paged = service.observations().query().top(2).count().list()
    assert paged.count == 11 and len(paged.entities) == 2 and paged.next_link
    assert len(list(paged)) == 11


@pytest.mark.clock
def test_client_writes_observations(live_server, client_world, tenant_a):
    world = client_world
    integration = member(tenant_a, Role.INTEGRATION)
    service = service_for(live_server, tenant_a, integration)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)

    observation = fsc.Observation(
        result=77, phenomenon_time=when, datastream=fsc.Datastream(id=world.cam_pier.pk)
    )
    service.create(observation)
    with scopes_disabled():
        stored = Observation.objects.get(pk=observation.id)
    assert (stored.series_id, stored.time, stored.value) == (world.cam_pier.pk, when, 77)

    dav = DataArrayValue()
    dav.datastream = fsc.Datastream(id=world.garage.pk)
    dav.components = {DataArrayValue.Property.PHENOMENON_TIME, DataArrayValue.Property.RESULT}
    for minutes, value in ((1, 120), (2, 118)):
        dav.add_observation(fsc.Observation(phenomenon_time=when + timedelta(minutes=minutes), result=value))
    document = DataArrayDocument()
    document.add_data_array_value(dav)
    created = service.observations().create(document)
    assert [o.self_link.rsplit("/", 1)[1].startswith("Observations(") for o in created] == [True, True]
    with scopes_disabled():
        garage = Series.objects.get(pk=world.garage.pk)
    assert (garage.latest_time, garage.latest_value) == (when + timedelta(minutes=2), 118)


@pytest.fixture
def demo(transactional_db, settings):
    settings.DEBUG = True
    settings.CELERY_TASK_ALWAYS_EAGER = False
    call_command("seed_demo", stdout=StringIO())


def test_client_reads_the_demo_tenant(live_server, demo):
    """Done when: a third-party SensorThings client reads the demo tenant's data."""
    with scopes_disabled():
        tenant = Tenant.objects.get(slug="den-haag")
        analyst = get_user_model().objects.get(username="den-haag-analyst")  # the demo's log-in
        source = Source.objects.get(tenant=tenant, slug="telcameras-scheveningen")
        series_count = Series.objects.filter(tenant=tenant).count()
    service = service_for(live_server, tenant, analyst)

    [thing] = list(service.things().query().filter("properties/slug eq 'telcameras-scheveningen'").list())
    assert thing.id == source.pk
    datastreams = service.datastreams().query().count().top(1000).list()
    assert datastreams.count == series_count > 5
    pier = (
        service.datastreams()
        .query()
        .filter("properties/key eq 'cam-de-pier'")
        .expand("Observations($orderby=phenomenonTime desc;$top=3),Thing($select=name)")
        .list()
    )
    [pier] = list(pier)
    assert pier.thing.name == source.name
    assert len(pier.observations.entities) == 3
    newest = [o.phenomenon_time for o in pier.observations.entities]  # this page (iterating pages on)
    assert newest == sorted(newest, reverse=True)
    features = {f.properties["slug"] for f in service.features_of_interest().query().list()}
    assert {"boulevard", "de-pier", "kurhausplein"} <= features
    assert {p.name for p in service.observed_properties().query().list()} >= {"people present (occupancy)"}
