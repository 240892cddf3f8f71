"""``manage.py backtest --outage-zero-hours / --outage-stuck-hours``: outage runs scored and trained as gaps."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from areas.forecasting.csvio import write_long
from areas.forecasting.data import mask_outages
from areas.forecasting.synthetic import generate

ARGS = ("--horizons", "1,24", "--train-until", "2025-02-03", "--json")


def run(*args) -> dict:
    out = StringIO()
    call_command("backtest", *args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Six weeks of three sensors with a dead counter (30 hours of zeros) and a stuck one (8 hours of 17)
    in the scored weeks; and the same data with every such run left out of the file, as gaps."""
    folder = tmp_path_factory.mktemp("outages")
    series = generate(weeks=6, sensors=3, seed=5).series
    names = sorted(series)
    stamps, values = series[names[0]]
    dead = values.copy()
    dead[800:830] = 0.0
    series[names[0]] = (stamps, dead)
    stamps, values = series[names[1]]
    stuck = values.copy()
    stuck[900:908] = 17.0
    series[names[1]] = (stamps, stuck)
    write_long(folder / "raw.csv", series)
    gapped, masked = {}, 0
    for name, (stamps, values) in series.items():
        hours = stamps.astype("datetime64[h]").astype(np.int64)
        cleared, count = mask_outages(hours, values, zero_hours=24, stuck_hours=8)
        gapped[name] = (stamps, cleared)
        masked += count
    write_long(folder / "gapped.csv", gapped)
    return folder, masked


def test_outage_runs_are_read_as_gaps_in_training_and_scoring(files):
    folder, masked = files
    assert masked >= 30 + 8
    raw = str(folder / "raw.csv")
    flags = ("--outage-zero-hours", "24", "--outage-stuck-hours", "8")
    as_gaps = run("--csv", raw, *flags, *ARGS)
    assert as_gaps == run("--csv", str(folder / "gapped.csv"), *ARGS)
    as_counts = run("--csv", raw, *ARGS)
    for horizon in ("1", "24"):
        # the dead and stuck hours are no longer scored as if people were counted then
        assert as_gaps[horizon]["n"] < as_counts[horizon]["n"]
    assert run("--csv", raw, "--outage-zero-hours", "0", "--outage-stuck-hours", "0", *ARGS) == as_counts


@pytest.mark.parametrize("option", ["--outage-zero-hours", "--outage-stuck-hours"])
def test_a_negative_outage_length_exits_with_2(files, option):
    folder, _ = files
    with pytest.raises(CommandError) as error:
        run("--csv", str(folder / "raw.csv"), option, "-1", *ARGS)
    assert error.value.returncode == 2
    assert f"{option} must be 0 (off) or more hours." in str(error.value)


def test_value_runs_end_at_a_change_a_missing_hour_or_a_gap():
    from areas.forecasting.data import value_runs

    hours = np.array([0, 1, 2, 3, 5, 6, 7, 8, 9])
    values = np.array([4.0, 4.0, 4.0, 2.0, 2.0, 2.0, np.nan, np.nan, 3.0])
    starts, lengths = value_runs(hours, values)
    # 4 x3; 2 at hour 3; 2 from hour 5 (hour 4 is missing) x2; each NaN alone; 3
    assert starts.tolist() == [0, 3, 4, 6, 7, 8]
    assert lengths.tolist() == [3, 1, 2, 1, 1, 1]
    assert [len(a) for a in value_runs([], [])] == [0, 0]
