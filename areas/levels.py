"""Crowd levels: the functions that turn a people count, or a passer-by flow, into a level.

Bands are lower bounds of each level above ``quiet``: a value at a band edge belongs to the higher
level (0.5 p/m² is ``busy``). Where an area has a capacity, the level comes from the share of capacity
(the capacity was set deliberately for that area, e.g. a licensed event zone); otherwise from
density in persons per m² of usable surface. Defaults from DOMAIN.md; a tenant overrides them for all
its areas, an area for itself.

Passer-by counts (people crossing a counting line per minute) are not people present. Their level comes
from the specific flow, persons per minute per metre of line width, in one of two ways the area chooses:

- ``fruin`` (default): flow bands, by default the Fruin levels of service for walkways (LOS A-B quiet,
  C busy from 33, D very busy from 49, E crowded from 66, F critical from 82 p/min/m; Fruin 1971, 10 / 15
  / 20 / 25 persons per minute per foot).
- ``weidmann``: the flow is turned into a density estimate with Weidmann's fundamental diagram for
  pedestrians (1993: v = 1.34 m/s x (1 - exp(-1.913 (1/D - 1/5.4)))), read on its free-flow branch, and
  the level comes from the density bands. At or above the diagram's capacity (about 73 p/min/m at about
  1.75 p/m²) a flow cannot tell a free crowd from a jammed one: the estimate is marked ``saturated`` and
  the level is at least ``crowded``.
"""

import math
from dataclasses import dataclass
from itertools import pairwise

from .choices import CrowdLevel

LEVELS: tuple[str, ...] = tuple(CrowdLevel.values)
BAND_KEYS: tuple[str, ...] = LEVELS[1:]  # busy, very_busy, crowded, critical

DEFAULT_DENSITY_BANDS: dict[str, float] = {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5}
DEFAULT_CAPACITY_BANDS: dict[str, float] = {"busy": 50, "very_busy": 75, "crowded": 90, "critical": 100}
# Fruin's walkway levels of service in persons per minute per metre (C, D, E, F lower bounds).
DEFAULT_FLOW_BANDS: dict[str, float] = {"busy": 33, "very_busy": 49, "crowded": 66, "critical": 82}
FLOW_METHODS: tuple[str, ...] = ("fruin", "weidmann")
FLOW_UNIT = "persons/min/m"

PUBLIC_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "quiet": "quiet",
        "busy": "busy",
        "very_busy": "very busy",
        "crowded": "very busy, avoid",
        "critical": "very busy, avoid",
    },
    "nl": {
        "quiet": "rustig",
        "busy": "druk",
        "very_busy": "erg druk",
        "crowded": "erg druk, vermijd dit gebied",
        "critical": "erg druk, vermijd dit gebied",
    },
}


def public_label(level: str, language: str = "en") -> str:
    """The visitor-facing words for a level (DOMAIN.md public label mapping)."""
    return PUBLIC_LABELS.get(language, PUBLIC_LABELS["en"])[level]


def validate_bands(bands, *, unit: str) -> dict[str, float]:
    """Check a band mapping: all four keys, positive numbers, strictly increasing. Raises ValueError."""
    if not isinstance(bands, dict):
        raise ValueError(
            f"Bands must be an object with keys {', '.join(BAND_KEYS)} (lower bounds in {unit})."
        )
    unknown = set(bands) - set(BAND_KEYS)
    missing = [k for k in BAND_KEYS if k not in bands]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(sorted(unknown))}")
        raise ValueError(f"Bands need exactly {', '.join(BAND_KEYS)}: {'; '.join(parts)}.")
    values = []
    for key in BAND_KEYS:
        value = bands[key]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"Band '{key}' must be a positive number of {unit}, not {value!r}.")
        values.append(float(value))
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError(
            "Bands must increase strictly: "
            + " < ".join(f"{k} {v:g}" for k, v in zip(BAND_KEYS, values, strict=True))
        )
    return dict(zip(BAND_KEYS, values, strict=True))


def level_for(value: float, bands: dict[str, float]) -> str:
    """The level whose band contains ``value`` (lower bounds inclusive)."""
    level = LEVELS[0]
    for key in BAND_KEYS:
        if value >= bands[key]:
            level = key
    return level


@dataclass(frozen=True)
class CrowdAssessment:
    """A count seen against an area: density, share of capacity, level and what the level is based on."""

    count: float
    surface_m2: float
    density: float
    capacity: int | None
    occupancy_pct: float | None
    level: str
    basis: str  # "capacity" or "density"

    def public_label(self, language: str = "en") -> str:
        return public_label(self.level, language)


def assess(
    count: float,
    *,
    surface_m2: float,
    capacity: int | None = None,
    density_bands: dict[str, float] | None = None,
    capacity_bands: dict[str, float] | None = None,
) -> CrowdAssessment:
    """Turn a people count into density (p/m²) and a crowd level. Used by status, alerts and public pages."""
    if surface_m2 <= 0:
        raise ValueError("surface_m2 must be positive")
    count = max(float(count), 0.0)
    density = count / surface_m2
    if capacity:
        occupancy = 100.0 * count / capacity
        level = level_for(occupancy, capacity_bands or DEFAULT_CAPACITY_BANDS)
        basis = "capacity"
    else:
        occupancy = None
        level = level_for(density, density_bands or DEFAULT_DENSITY_BANDS)
        basis = "density"
    return CrowdAssessment(
        count=count,
        surface_m2=surface_m2,
        density=density,
        capacity=capacity,
        occupancy_pct=occupancy,
        level=level,
        basis=basis,
    )


# --- passer-by flow ---------------------------------------------------------------------------------

WEIDMANN_V0 = 1.34  # m/s, free walking speed
WEIDMANN_GAMMA = 1.913  # persons/m²
WEIDMANN_DMAX = 5.4  # persons/m², jam density


def weidmann_flow(density: float) -> float:
    """Specific flow in persons per minute per metre at ``density`` p/m² (Weidmann's fundamental diagram)."""
    if density <= 0:
        return 0.0
    if density >= WEIDMANN_DMAX:
        return 0.0
    speed = WEIDMANN_V0 * (1 - math.exp(-WEIDMANN_GAMMA * (1 / density - 1 / WEIDMANN_DMAX)))
    return 60.0 * density * speed


def _capacity() -> tuple[float, float]:
    """(density, flow) at the top of the diagram, by golden-section search (the curve is unimodal)."""
    low, high = 0.1, WEIDMANN_DMAX - 0.01
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if weidmann_flow(a) < weidmann_flow(b):
            low = a
        else:
            high = b
    density = (low + high) / 2
    return density, weidmann_flow(density)


WEIDMANN_CAPACITY_DENSITY, WEIDMANN_CAPACITY_FLOW = _capacity()


def weidmann_density(flow: float) -> tuple[float, bool]:
    """(density estimate in p/m², saturated) for a specific flow in p/min/m, on the free-flow branch."""
    if flow <= 0:
        return 0.0, False
    if flow >= WEIDMANN_CAPACITY_FLOW:
        return WEIDMANN_CAPACITY_DENSITY, True
    low, high = 0.0, WEIDMANN_CAPACITY_DENSITY
    for _ in range(60):  # the flow rises monotonically up to capacity: bisection
        middle = (low + high) / 2
        if weidmann_flow(middle) < flow:
            low = middle
        else:
            high = middle
    return (low + high) / 2, False


@dataclass(frozen=True)
class FlowAssessment:
    """A specific flow seen against an area: its level, and the density estimate where asked for."""

    flow: float  # persons per minute per metre of counting line
    method: str  # "fruin" or "weidmann"
    level: str
    density: float | None  # weidmann: the estimated density in p/m²
    saturated: bool  # weidmann: at or above the diagram's capacity
    basis: str  # "flow" (flow bands) or "flow_density" (density bands on the estimate)

    def public_label(self, language: str = "en") -> str:
        return public_label(self.level, language)


def assess_flow(
    flow: float,
    *,
    method: str = "fruin",
    flow_bands: dict[str, float] | None = None,
    density_bands: dict[str, float] | None = None,
) -> FlowAssessment:
    """Turn a specific flow (p/min/m) into a crowd level, by Fruin's flow bands or Weidmann's density."""
    flow = max(float(flow), 0.0)
    if method == "weidmann":
        density, saturated = weidmann_density(flow)
        level = level_for(density, density_bands or DEFAULT_DENSITY_BANDS)
        if saturated and LEVELS.index(level) < LEVELS.index("crowded"):
            level = "crowded"
        return FlowAssessment(flow, method, level, density, saturated, "flow_density")
    if method != "fruin":
        raise ValueError(f"Unknown flow method {method!r}; use one of {', '.join(FLOW_METHODS)}.")
    level = level_for(flow, flow_bands or DEFAULT_FLOW_BANDS)
    return FlowAssessment(flow, method, level, None, False, "flow")
