"""The one count -> density -> level function, at every band edge, and the public labels."""

import pytest

from areas.levels import (
    DEFAULT_CAPACITY_BANDS,
    DEFAULT_DENSITY_BANDS,
    assess,
    level_for,
    public_label,
    validate_bands,
)


@pytest.mark.parametrize(
    ("count", "level"),
    [
        (0, "quiet"),
        (499, "quiet"),
        (500, "busy"),  # 0.5 p/m² on 1000 m²: the edge belongs to the higher level
        (999, "busy"),
        (1000, "very_busy"),
        (1999, "very_busy"),
        (2000, "crowded"),
        (3499, "crowded"),
        (3500, "critical"),
        (10_000, "critical"),
    ],
)
def test_density_bands_at_each_edge(count, level):
    result = assess(count, surface_m2=1000)
    assert result.level == level
    assert result.basis == "density"
    assert result.density == pytest.approx(count / 1000)
    assert result.occupancy_pct is None


@pytest.mark.parametrize(
    ("count", "level"),
    [(0, "quiet"), (499, "quiet"), (500, "busy"), (749, "busy"), (750, "very_busy"), (899, "very_busy"),
     (900, "crowded"), (999, "crowded"), (1000, "critical"), (1500, "critical")],
)  # fmt: skip
def test_capacity_bands_at_each_edge(count, level):
    # 1000 people on 100 000 m² is quiet by density, but the capacity was set for this area and rules
    result = assess(count, surface_m2=100_000, capacity=1000)
    assert result.level == level
    assert result.basis == "capacity"
    assert result.occupancy_pct == pytest.approx(count / 10)


def test_overridden_bands_are_used():
    bands = {"busy": 0.2, "very_busy": 0.4, "crowded": 0.8, "critical": 1.5}
    assert assess(400, surface_m2=1000, density_bands=bands).level == "very_busy"
    assert assess(400, surface_m2=1000).level == "quiet"
    assert (
        assess(
            60,
            surface_m2=1,
            capacity=100,
            capacity_bands={"busy": 10, "very_busy": 20, "crowded": 50, "critical": 60},
        ).level
        == "critical"
    )


def test_negative_counts_are_floored_and_surface_must_be_positive():
    assert assess(-5, surface_m2=10).level == "quiet"
    with pytest.raises(ValueError):
        assess(5, surface_m2=0)


def test_public_labels_follow_domain_mapping():
    assert [public_label(level) for level in ("quiet", "busy", "very_busy", "crowded", "critical")] == [
        "quiet",
        "busy",
        "very busy",
        "very busy, avoid",
        "very busy, avoid",
    ]
    assert public_label("crowded", "nl") == "erg druk, vermijd dit gebied"
    assert assess(3500, surface_m2=1000).public_label("nl") == "erg druk, vermijd dit gebied"


def test_default_bands_match_domain():
    assert DEFAULT_DENSITY_BANDS == {"busy": 0.5, "very_busy": 1.0, "crowded": 2.0, "critical": 3.5}
    assert DEFAULT_CAPACITY_BANDS == {"busy": 50, "very_busy": 75, "crowded": 90, "critical": 100}
    assert level_for(0.49999, DEFAULT_DENSITY_BANDS) == "quiet"


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ({"busy": 1, "very_busy": 2, "crowded": 3}, "missing critical"),
        ({"busy": 1, "very_busy": 2, "crowded": 3, "critical": 4, "panic": 5}, "unknown panic"),
        ({"busy": 1, "very_busy": 1, "crowded": 3, "critical": 4}, "increase strictly"),
        ({"busy": 0, "very_busy": 1, "crowded": 3, "critical": 4}, "positive number"),
        ({"busy": "1", "very_busy": 2, "crowded": 3, "critical": 4}, "positive number"),
        ([0.5, 1, 2, 3.5], "must be an object"),
    ],
)
def test_bad_bands_are_explained(bands, message):
    with pytest.raises(ValueError, match=message):
        validate_bands(bands, unit="persons/m²")
