"""Crowd levels: the one function that turns a people count into density and level.

Bands are lower bounds of each level above ``quiet``: a value at a band edge belongs to the higher
level (0.5 p/m² is ``busy``). Where an area has a capacity, the level comes from the share of capacity
(the capacity was set deliberately for that area, e.g. a licensed event zone); otherwise from
density in persons per m² of usable surface. Defaults from DOMAIN.md; a tenant overrides them for all
its areas, an area for itself.
"""

from dataclasses import dataclass
from itertools import pairwise

from .choices import CrowdLevel

LEVELS: tuple[str, ...] = tuple(CrowdLevel.values)
BAND_KEYS: tuple[str, ...] = LEVELS[1:]  # busy, very_busy, crowded, critical

DEFAULT_DENSITY_BANDS: dict[str, float] = {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5}
DEFAULT_CAPACITY_BANDS: dict[str, float] = {"busy": 50, "very_busy": 75, "crowded": 90, "critical": 100}

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
