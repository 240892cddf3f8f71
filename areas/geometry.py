"""Validation and measurement of area geometry: GeoJSON Polygon/MultiPolygon in WGS84 (lon, lat).

Checks come in the order a GIS user can act on: structure, ranges, swapped axes, closure, ring size,
then topology (shapely) and surface (geodesic, pyproj). Every message says where the problem is.
"""

import math
from dataclasses import dataclass

import shapely
from django.conf import settings
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import mapping, shape
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

GEOD = Geod(ellps="WGS84")
MIN_SURFACE_M2 = 1.0
MAX_SURFACE_M2 = 100_000_000.0  # 100 km²: larger is a whole region, not a crowd area
COORDINATE_DECIMALS = 7  # about 1 cm


class GeometryError(ValueError):
    """Invalid geometry; ``messages`` lists every problem found."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class MeasuredGeometry:
    """A valid geometry in RFC 7946 orientation with its geodesic surface, bounding box and centroid."""

    geojson: dict
    surface_m2: float
    bbox: tuple[float, float, float, float]
    centroid: tuple[float, float]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _polygons_of(geometry: dict) -> list:
    if geometry["type"] == "Polygon":
        return [("", geometry["coordinates"])]
    return [(f"polygon {i}, ", polygon) for i, polygon in enumerate(geometry["coordinates"])]


def _check_structure(geometry) -> list[str]:
    if not isinstance(geometry, dict):
        return ["Geometry must be a GeoJSON object with 'type' and 'coordinates'."]
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        return [f"Geometry type must be Polygon or MultiPolygon, not {kind!r}."]
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        return ["Geometry is empty: 'coordinates' has no rings."]
    errors = []
    polygons = [coordinates] if kind == "Polygon" else coordinates
    for p_index, polygon in enumerate(polygons):
        where = f"polygon {p_index}, " if kind == "MultiPolygon" else ""
        if not isinstance(polygon, list) or not polygon:
            errors.append(_sentence(f"{where or 'Polygon '}has no rings."))
            continue
        for r_index, ring in enumerate(polygon):
            if not isinstance(ring, list):
                errors.append(_sentence(f"{where}ring {r_index} is not a list of positions."))
                continue
            for pos_index, position in enumerate(ring):
                if not (
                    isinstance(position, list) and len(position) in (2, 3) and all(map(_is_number, position))
                ):
                    errors.append(
                        _sentence(
                            f"{where}ring {r_index}, position {pos_index}: expected [longitude, latitude], "
                            f"got {position!r}."
                        )
                    )
                    break
    return errors


def _check_ranges(geometry: dict, home_bbox) -> list[str]:
    lons, lats = [], []
    for _where, polygon in _polygons_of(geometry):
        for ring in polygon:
            for position in ring:
                lons.append(position[0])
                lats.append(position[1])
    errors = []
    if any(abs(lat) > 90 for lat in lats) or any(abs(lon) > 180 for lon in lons):
        bad = next([lon, lat] for lon, lat in zip(lons, lats, strict=True) if abs(lat) > 90 or abs(lon) > 180)
        hint = " Coordinates must be WGS84 degrees [longitude, latitude]"
        if abs(bad[0]) > 1000 or abs(bad[1]) > 1000:
            hint += " (these look like projected metres, e.g. RD New EPSG:28992; convert or name the crs)"
        errors.append(f"Position {bad} is out of range.{hint}.")
        return errors
    if home_bbox:
        min_lon, min_lat, max_lon, max_lat = home_bbox

        def inside(lon, lat):
            return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat

        as_given = sum(inside(lon, lat) for lon, lat in zip(lons, lats, strict=True))
        swapped = sum(inside(lat, lon) for lon, lat in zip(lons, lats, strict=True))
        if as_given == 0 and swapped == len(lons):
            errors.append(
                f"Latitude and longitude look swapped: position {[lons[0], lats[0]]} lies outside the "
                f"service region, {[lats[0], lons[0]]} inside it. GeoJSON order is [longitude, latitude]."
            )
    return errors


def _check_rings(geometry: dict) -> list[str]:
    errors = []
    for where, polygon in _polygons_of(geometry):
        for r_index, ring in enumerate(polygon):
            label = f"{where}ring {r_index}"
            if len(ring) < 4:
                errors.append(
                    _sentence(f"{label} has {len(ring)} positions; a closed ring needs at least 4.")
                )
            elif ring[0][:2] != ring[-1][:2]:
                errors.append(
                    _sentence(f"{label} is not closed: first position {ring[0]} differs from last {ring[-1]}")
                    + "."
                )
    return errors


def polygon_problems(geometry, *, home_bbox=None) -> list[str]:
    """The cheap checks of :func:`measure` (structure, ranges, swapped axes, closed rings), without topology
    or surface: for layers drawn on a map (building footprints) where thousands of shapes are checked."""
    if home_bbox is None:
        home_bbox = settings.HOME_REGION_BBOX
    for check in (_check_structure, lambda g: _check_ranges(g, home_bbox), _check_rings):
        errors = check(geometry)
        if errors:
            return errors
    return []


def rounded(geometry: dict) -> dict:
    """The geometry with 2D positions rounded to COORDINATE_DECIMALS (a z coordinate is dropped)."""
    return {"type": geometry["type"], "coordinates": _round(geometry["coordinates"])}


def reproject(geometry: dict, crs_name: str) -> dict:
    """Transform a geometry from a named CRS (legacy GeoJSON ``crs`` member, e.g. EPSG:28992) to WGS84."""
    try:
        source = CRS.from_user_input(crs_name)
    except CRSError as exc:
        raise GeometryError([f"Unknown coordinate reference system {crs_name!r}."]) from exc
    if source.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return geometry
    transformer = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
    projected = mapping(shapely.transform(shape(geometry), transformer.transform, interleaved=False))
    return {"type": projected["type"], "coordinates": _to_lists(projected["coordinates"])}


def _round(coords):
    if coords and isinstance(coords[0], int | float):
        return [round(float(c), COORDINATE_DECIMALS) for c in coords[:2]]
    return [_round(c) for c in coords]


def measure(geometry, *, home_bbox=None) -> MeasuredGeometry:
    """Validate a GeoJSON polygon geometry and measure it; raises :class:`GeometryError`."""
    if home_bbox is None:
        home_bbox = settings.HOME_REGION_BBOX
    for check in (_check_structure, lambda g: _check_ranges(g, home_bbox), _check_rings):
        errors = check(geometry)
        if errors:
            raise GeometryError(errors)
    geom = shape(geometry)
    if geom.is_empty:
        raise GeometryError(["Geometry is empty."])
    if not geom.is_valid:
        raise GeometryError([f"Geometry is not a valid polygon: {_describe_invalidity(geom)}."])
    geom = orient(geom, sign=1.0) if geom.geom_type == "Polygon" else _orient_multi(geom)
    area, _perimeter = GEOD.geometry_area_perimeter(geom)
    surface = abs(area)
    if surface < MIN_SURFACE_M2:
        raise GeometryError([f"Surface is {surface:.2f} m², below the minimum of {MIN_SURFACE_M2:g} m²."])
    if surface > MAX_SURFACE_M2:
        raise GeometryError(
            [
                f"Surface is {surface / 1e6:.1f} km², above the maximum of {MAX_SURFACE_M2 / 1e6:g} km² "
                "for one area."
            ]
        )
    centroid = geom.representative_point() if not geom.centroid.within(geom) else geom.centroid
    normalized = mapping(geom)
    return MeasuredGeometry(
        geojson={"type": normalized["type"], "coordinates": _round(_to_lists(normalized["coordinates"]))},
        surface_m2=round(surface, 2),
        bbox=tuple(round(v, COORDINATE_DECIMALS) for v in geom.bounds),
        centroid=(round(centroid.x, COORDINATE_DECIMALS), round(centroid.y, COORDINATE_DECIMALS)),
    )


def _describe_invalidity(geom) -> str:
    """'Self-intersection[4.27 52.11]' -> 'self-intersection at or near [4.27, 52.11]'."""
    reason = explain_validity(geom)
    if "[" in reason and reason.endswith("]"):
        what, where = reason[:-1].split("[", 1)
        return f"{what.strip().lower()} at or near [{', '.join(where.split())}]"
    return reason.lower()


def _orient_multi(geom):
    from shapely.geometry import MultiPolygon

    return MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])


def _to_lists(coords):
    if isinstance(coords, tuple | list) and coords and isinstance(coords[0], int | float):
        return list(coords)
    return [_to_lists(c) for c in coords]
