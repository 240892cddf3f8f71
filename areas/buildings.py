"""Building footprints for the 3D map: read a GeoJSON FeatureCollection and keep footprint and height only.

Heights (metres above the ground) are read from the first of these properties a feature has:

- ``height`` (OpenStreetMap, most GIS exports), ``hoogte`` (Dutch exports);
- the 3D BAG's ``b3_h_dak_max`` (3D BAG 2.0) or ``h_dak_max`` (3D BAG 1.x): the highest point of the roof
  in metres above NAP. When the feature also has the ground level (``b3_h_maaiveld`` or ``h_maaiveld``,
  also NAP), that is subtracted, so the block stands on the ground; without it the value is taken as it is.

A legacy ``crs`` member (the 3D BAG and PDOK publish EPSG:28992, RD New) is reprojected to WGS84. Every
other property is dropped: the layer keeps footprint, height and the feature's id, nothing else.
"""

import math
from dataclasses import dataclass, field

import shapely.errors

from .geometry import GeometryError, polygon_problems, reproject, rounded

MAX_BUILDINGS = 20_000
MAX_HEIGHT_M = 1000.0
MAX_REPORTED = 1000  # feature errors listed; the count is always complete
# (height property, ground-level property subtracted from it when present)
HEIGHT_KEYS = (
    ("height", None),
    ("hoogte", None),
    ("b3_h_dak_max", "b3_h_maaiveld"),
    ("h_dak_max", "h_maaiveld"),
)


@dataclass
class BuildingsRead:
    """What was read from an upload: the kept features, per-feature errors, and which keys gave heights."""

    features: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    rejected: int = 0
    total: int = 0
    height_keys: dict[str, int] = field(default_factory=dict)
    bbox: list[float] | None = None

    def reject(self, index: int | None, feature_id, errors: dict[str, list[str]]) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append({"feature": index, "id": feature_id, "errors": errors})


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def building_height(properties: dict) -> tuple[float | None, str | None, str | None]:
    """(height in metres, the key it came from, problem) for one feature's properties."""
    for key, ground_key in HEIGHT_KEYS:
        if key not in properties or properties[key] is None:
            continue
        height = _number(properties[key])
        if height is None:
            return None, key, f"'{key}' is not a number ({properties[key]!r})."
        if ground_key and properties.get(ground_key) is not None:
            ground = _number(properties[ground_key])
            if ground is None:
                return None, key, f"'{ground_key}' is not a number ({properties[ground_key]!r})."
            height -= ground
        if height <= 0:
            return None, key, f"Height from '{key}' is {height:g} m; it must be above 0."
        if height >= MAX_HEIGHT_M:
            return None, key, f"Height from '{key}' is {height:g} m; it must be below {MAX_HEIGHT_M:g} m."
        return round(height, 2), key, None
    keys = ", ".join(k for k, _ in HEIGHT_KEYS)
    return None, None, f"No height: give one of the properties {keys} (metres)."


def read_buildings(data) -> BuildingsRead:
    """Validate a FeatureCollection of footprints; all of it is read, so every bad feature is reported."""
    result = BuildingsRead()
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        result.reject(None, None, {"type": ["Body must be a GeoJSON FeatureCollection."]})
        return result
    raw = data.get("features")
    if not isinstance(raw, list):
        result.reject(None, None, {"features": ["The FeatureCollection has no 'features' list."]})
        return result
    result.total = len(raw)
    if len(raw) > MAX_BUILDINGS:
        result.reject(
            None, None, {"features": [f"At most {MAX_BUILDINGS} buildings per layer; got {len(raw)}."]}
        )
        return result
    crs = data.get("crs")
    crs_name = (crs.get("properties") or {}).get("name") if isinstance(crs, dict) else None
    bounds = [math.inf, math.inf, -math.inf, -math.inf]
    for index, feature in enumerate(raw):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            result.reject(index, None, {"type": ["Not a GeoJSON Feature."]})
            continue
        feature_id = feature.get("id") if isinstance(feature.get("id"), str | int) else None
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            result.reject(index, feature_id, {"properties": ["Must be an object."]})
            continue
        errors: dict[str, list[str]] = {}
        height, key, problem = building_height(properties)
        if problem:
            errors["height"] = [problem]
        geometry = feature.get("geometry")
        if crs_name and isinstance(geometry, dict):
            try:
                geometry = reproject(geometry, crs_name)
            except GeometryError as exc:
                errors["crs"] = exc.messages
            except (TypeError, ValueError, AttributeError, KeyError, shapely.errors.ShapelyError):
                pass  # malformed coordinates: the checks below name the problem
        if "crs" not in errors:
            geometry_errors = polygon_problems(geometry)
            if geometry_errors:
                errors["geometry"] = geometry_errors
        if errors:
            result.reject(index, feature_id, errors)
            continue
        geometry = rounded(geometry)
        kept = {"height": height}
        if feature_id is not None:
            kept["id"] = feature_id
        result.features.append({"type": "Feature", "geometry": geometry, "properties": kept})
        result.height_keys[key] = result.height_keys.get(key, 0) + 1
        _extend(bounds, geometry)
    if result.features:
        result.bbox = [round(v, 7) for v in bounds]
    return result


def _extend(bounds: list[float], geometry: dict) -> None:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for polygon in polygons:
        for lon, lat in polygon[0]:  # the outer ring bounds the polygon
            bounds[0], bounds[1] = min(bounds[0], lon), min(bounds[1], lat)
            bounds[2], bounds[3] = max(bounds[2], lon), max(bounds[3], lat)
