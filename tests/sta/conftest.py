"""SensorThings fixtures: a tenant with areas, sources, located and unlocated series and observations."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django_scopes import scopes_disabled

from sources.models import Observation, Series
from tenants.choices import Role
from tests.factories import make_area, make_series, make_source, member, square, token_for

T0 = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)


@dataclass
class World:
    """What ``sta_world`` built, by name."""

    tenant: object
    kurhaus: object
    pier: object
    cameras: object
    parking: object
    cam_kurhaus: Series
    cam_pier: Series
    garage: Series
    observations: list


def build_world(tenant, prefix: str = "") -> World:
    """Two areas, a camera source with two series (one located), a parking source, 3-5 observations each."""
    kurhaus = make_area(tenant, slug=f"{prefix}kurhaus", name="Kurhausplein")
    pier = make_area(tenant, slug=f"{prefix}pier", name="De Pier", geometry=square(4.2640, 52.1160))
    cameras = make_source(tenant, slug=f"{prefix}cameras", name="Cameras Scheveningen", areas=[kurhaus, pier],
                          purpose="Crowd levels on the boulevard")  # fmt: skip
    parking = make_source(tenant, slug=f"{prefix}parking", name="Garage Kurhaus", kind="counting_camera")
    cam_kurhaus = make_series(
        tenant, key="cam-kurhaus", source=cameras, name="Camera Kurhaus", area=kurhaus, unit="persons",
        lon=4.2730, lat=52.1120,
    )  # fmt: skip
    cam_pier = make_series(tenant, key="cam-pier", source=cameras, area=pier, unit="persons")
    garage = make_series(
        tenant, key="garage", metric="parking_vacant", source=parking, unit="spaces", lon=4.2772, lat=52.1104
    )
    observations = []
    with scopes_disabled():
        for series, values in ((cam_kurhaus, [120, 150, 180, 210, 90]), (cam_pier, [40, 60, 80]),
                               (garage, [300, 250, 200])):  # fmt: skip
            for minutes, value in enumerate(values):
                observations.append(
                    Observation.objects.create(
                        tenant=tenant, series=series, time=T0 + timedelta(minutes=5 * minutes), value=value
                    )
                )
    return World(tenant, kurhaus, pier, cameras, parking, cam_kurhaus, cam_pier, garage, observations)


@pytest.fixture
def world(tenant_a) -> World:
    return build_world(tenant_a)


@pytest.fixture
def sta(tenant_a, api):
    """``sta(path, **params)``: GET /sta/v1.1/tenants/tenant-a/<path> as an analyst of tenant A."""
    analyst = member(tenant_a, Role.ANALYST)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(analyst)}")

    def get(path: str = "", **params):
        return api.get(f"/sta/v1.1/tenants/{tenant_a.slug}/{path}", params)

    get.client = api
    return get
