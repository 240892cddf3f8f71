"""Geometry validation and the geodesic surface against independent references."""

import math
from itertools import pairwise

import pytest
from pyproj import Transformer

from areas.geometry import GeometryError, measure, reproject

# WGS84 ellipsoid
A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)
E = math.sqrt(E2)
B = A * (1 - F)


def _q(phi: float) -> float:
    s = math.sin(phi)
    return s / (1 - E2 * s * s) + math.log((1 + E * s) / (1 - E * s)) / (2 * E)


def ellipsoidal_quad_area(lon1, lat1, lon2, lat2) -> float:
    """Exact area of a latitude/longitude quadrangle on the WGS84 ellipsoid (authalic-latitude formula)."""
    return B**2 * math.radians(lon2 - lon1) / 2 * (_q(math.radians(lat2)) - _q(math.radians(lat1)))


def ring(*points):
    return [[list(p) for p in (*points, points[0])]]


def test_surface_matches_the_ellipsoidal_reference_within_half_a_percent():
    # 0.01 x 0.01 degree quadrangle at Scheveningen; edges this short make geodesic and parallel agree
    lon, lat = 4.27, 52.10
    geometry = {
        "type": "Polygon",
        "coordinates": ring((lon, lat), (lon + 0.01, lat), (lon + 0.01, lat + 0.01), (lon, lat + 0.01)),
    }
    reference = ellipsoidal_quad_area(lon, lat, lon + 0.01, lat + 0.01)
    assert reference == pytest.approx(762_400, rel=0.001)  # sanity: 685.2 m x 1112.6 m at 52.1° N
    assert measure(geometry).surface_m2 == pytest.approx(reference, rel=0.005)
    assert measure(geometry).surface_m2 == pytest.approx(reference, rel=0.0005)  # in fact far closer


def test_surface_of_a_100_m_square_drawn_in_rd_new():
    # RD New (EPSG:28992) is the Dutch national grid; its scale error is below 0.01 % at Scheveningen
    to_wgs84 = Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)
    x, y = 78_500, 457_500
    corners = [to_wgs84.transform(*p) for p in [(x, y), (x + 100, y), (x + 100, y + 100), (x, y + 100)]]
    measured = measure({"type": "Polygon", "coordinates": ring(*corners)})
    assert measured.surface_m2 == pytest.approx(10_000, rel=0.005)


def test_holes_are_subtracted_and_multipolygons_added():
    outer = ring((4.27, 52.10), (4.28, 52.10), (4.28, 52.11), (4.27, 52.11))[0]
    hole = [[4.274, 52.104], [4.274, 52.106], [4.276, 52.106], [4.276, 52.104], [4.274, 52.104]]
    full = measure({"type": "Polygon", "coordinates": [outer]}).surface_m2
    holed = measure({"type": "Polygon", "coordinates": [outer, hole]}).surface_m2
    hole_area = ellipsoidal_quad_area(4.274, 52.104, 4.276, 52.106)
    assert full - holed == pytest.approx(hole_area, rel=0.005)
    moved = [[lon + 0.02, lat] for lon, lat in outer]
    multi = measure({"type": "MultiPolygon", "coordinates": [[outer], [moved]]})
    assert multi.surface_m2 == pytest.approx(2 * full, rel=0.001)


def test_clockwise_input_is_oriented_counter_clockwise():
    clockwise = ring((4.27, 52.10), (4.27, 52.101), (4.271, 52.101), (4.271, 52.10))
    result = measure({"type": "Polygon", "coordinates": clockwise})
    exterior = result.geojson["coordinates"][0]
    signed = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairwise(exterior))
    assert signed > 0  # RFC 7946: exterior rings counter-clockwise
    assert result.surface_m2 > 0
    assert result.bbox == (4.27, 52.10, 4.271, 52.101)


SQUARE = ring((4.27, 52.11), (4.271, 52.11), (4.271, 52.111), (4.27, 52.111))


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Polygon", "coordinates": ring((4.27, 52.11), (4.271, 52.111), (4.271, 52.11), (4.27, 52.111))},
         "self-intersection at or near [4.2705, 52.1105]"),
        ({"type": "Polygon", "coordinates": [SQUARE[0][:-1]]}, "not closed"),
        ({"type": "Polygon", "coordinates": [[[4.27, 52.11], [4.271, 52.11], [4.27, 52.11]]]}, "needs at least 4"),
        ({"type": "Polygon", "coordinates": [[[lat, lon] for lon, lat in SQUARE[0]]]}, "look swapped"),
        ({"type": "Polygon", "coordinates": [[[4.27, 95.0], [4.28, 95.0], [4.28, 96.0], [4.27, 95.0]]]}, "out of range"),
        ({"type": "Polygon", "coordinates": [[[78500, 457500], [78600, 457500], [78600, 457600], [78500, 457500]]]},
         "projected metres"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        ({"type": "Point", "coordinates": [4.27, 52.11]}, "Polygon or MultiPolygon, not 'Point'"),
        ({"type": "LineString", "coordinates": [[4.27, 52.11], [4.28, 52.12]]}, "not 'LineString'"),
        ("POLYGON((4 52, 5 52, 5 53, 4 52))", "GeoJSON object"),
        ({"type": "Polygon", "coordinates": [[[4.27, "52.11"], [4.28, 52.11], [4.28, 52.12], [4.27, 52.11]]]},
         "expected [longitude, latitude]"),
        ({"type": "Polygon", "coordinates": ring((4.27, 52.11), (4.270005, 52.11), (4.270005, 52.110005), (4.27, 52.110005))},
         "below the minimum of 1 m²"),
        ({"type": "Polygon", "coordinates": ring((3.5, 51.0), (6.5, 51.0), (6.5, 53.0), (3.5, 53.0))},
         "above the maximum of 100 km²"),
        ({"type": "MultiPolygon", "coordinates": [SQUARE, SQUARE]}, "not a valid polygon"),
    ],
)  # fmt: skip
def test_bad_geometry_is_rejected_with_a_precise_message(geometry, message):
    with pytest.raises(GeometryError) as caught:
        measure(geometry)
    assert message in str(caught.value)


def test_reproject_from_rd_new():
    x, y = 78_500, 457_500
    geometry = {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + 100, y], [x + 100, y + 100], [x, y + 100], [x, y]]],
    }
    wgs84 = reproject(geometry, "urn:ogc:def:crs:EPSG::28992")
    lon, lat = wgs84["coordinates"][0][0]
    assert 4.2 < lon < 4.35 and 52.05 < lat < 52.15
    assert measure(wgs84).surface_m2 == pytest.approx(10_000, rel=0.005)
    with pytest.raises(GeometryError, match="Unknown coordinate reference system"):
        reproject(geometry, "EPSG:99999999")
