"""``manage.py backtest``: JSON and table output in both CSV formats, accuracy, and every bad input (status 2)."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from areas.forecasting import features as feats
from areas.forecasting.csvio import read_series, write_long, write_wide
from areas.forecasting.synthetic import generate
from areas.management.commands.backtest import Command

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "forecasting"
KEYS = {"mae_model", "mae_seasonal_naive", "ratio", "n", "coverage_p10_p90", "mean_interval_width"}


def run(*args) -> str:
    out = StringIO()
    call_command("backtest", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def manage(*args, tmp_path) -> subprocess.CompletedProcess:
    """The command as a user runs it: a separate process through manage.py."""
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run(
        [sys.executable, "manage.py", "backtest", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def pedestrians(tmp_path_factory):
    """Six months of eight generated pedestrian sensors as a long CSV (about 32,000 rows)."""
    path = tmp_path_factory.mktemp("backtest") / "pedestrians.csv"
    write_long(path, generate(weeks=24, sensors=8, seed=0).series)
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Six weeks of three sensors, the same data in both formats."""
    folder = tmp_path_factory.mktemp("small")
    series = generate(weeks=6, sensors=3, seed=5).series
    write_long(folder / "long.csv", series)
    write_wide(folder / "wide.csv", series)
    return folder


def test_json_on_generated_pedestrian_counts_meets_the_accuracy_targets(pedestrians):
    # Train on 18 weeks (January to mid-May 2025), score six: King's Day, the May break, Ascension
    # and Whitsun are in the data.
    output = run("--csv", str(pedestrians), "--horizons", "1,3,24", "--train-until", "2025-05-12", "--json")
    result = json.loads(output)  # the whole of stdout is one JSON object
    assert list(result) == ["1", "3", "24"]
    for score in result.values():
        assert set(score) == KEYS
        assert isinstance(score["n"], int) and score["n"] > 5000
        assert all(isinstance(score[key], float) for key in KEYS - {"n"})
        assert score["ratio"] == pytest.approx(score["mae_model"] / score["mae_seasonal_naive"])
    assert len({score["n"] for score in result.values()}) == 1  # the same points at every horizon
    assert len({score["mae_seasonal_naive"] for score in result.values()}) == 1
    assert result["1"]["ratio"] <= 0.60
    assert result["3"]["ratio"] <= 0.70
    assert result["24"]["ratio"] <= 0.75
    for score in result.values():
        assert 0.5 < score["coverage_p10_p90"] <= 1
        assert score["mean_interval_width"] > 0


def test_long_and_wide_formats_give_the_same_result(small):
    args = ("--horizons", "1,24", "--train-until", "2025-02-03", "--json")
    long = json.loads(run("--csv", str(small / "long.csv"), *args))
    wide = json.loads(run("--csv", str(small / "wide.csv"), "--format", "wide", *args))
    assert long == wide
    assert set(long) == {"1", "24"}
    assert all(set(score) == KEYS and score["n"] > 0 for score in long.values())


def test_table_output(small):
    output = run("--csv", str(small / "long.csv"), "--train-until", "2025-02-03")
    lines = output.splitlines()
    assert lines[0].startswith("3 series, ")
    assert "trained on the" in lines[0] and "before 2025-02-03 00:00 UTC" in lines[0]
    assert lines[1].split() == [
        "horizon",
        "n",
        "MAE",
        "model",
        "MAE",
        "seasonal",
        "naive",
        "ratio",
        "by",
        "model",
        "in",
        "p10-p90",
        "width",
    ]
    assert [line.split()[:2] for line in lines[2:5]] == [["1", "h"], ["3", "h"], ["24", "h"]]
    assert [line.split()[-3] for line in lines[2:5]] == ["100%"] * 3
    assert all(line.split()[-2].endswith("%") and float(line.split()[-1]) > 0 for line in lines[2:5])
    assert lines[5].startswith("ratio = MAE model / MAE seasonal naive")


def test_timestamps_with_offsets_naive_and_gaps_are_read_as_utc():
    midnight = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) // 3600
    expected_a = ([midnight, midnight + 1, midnight + 2], [10.0, 12.0, 11.0])
    expected_b = ([midnight - 1, midnight + 1], [7.0, 9.0])  # 00:00+01:00 is 23:00 UTC; then a gap
    for path, fmt in ((FIXTURES / "valid_long.csv", "long"), (FIXTURES / "valid_wide.csv", "wide")):
        series = read_series(path, fmt)
        hours, values = series["a"]
        assert (hours.tolist(), values.tolist()) == expected_a
        if fmt == "long":
            assert [part.tolist() for part in series["b"]] == [list(x) for x in expected_b]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("bad_timestamp.csv",),
            "line 3: cannot parse timestamp '2025-01-01T25:00:00Z' (expected ISO 8601).",
        ),
        (("not_whole_hour.csv",), "line 3: timestamp '2025-01-01T01:30:00Z' is not on a whole hour"),
        (
            ("duplicate_long.csv",),
            "line 5: duplicate timestamp 2025-01-01T01:00:00+00:00 for series 'a' (already on line 3).",
        ),
        (
            ("duplicate_wide.csv", "--format", "wide"),
            "line 4: duplicate timestamp 2025-01-01T01:00:00+00:00 for series 'a' (already on line 3).",
        ),
        (("negative.csv",), "line 3: negative value -5 for series 'a' (counts cannot be negative)."),
        (
            ("not_a_number_wide.csv", "--format", "wide"),
            "line 3: value 'lots' of series 'a' is not a number.",
        ),
        (("missing_columns.csv",), "line 1: missing column(s) timestamp, value for the long format"),
        (("wide_without_timestamp.csv", "--format", "wide"), "line 1: missing column timestamp for the wide"),
        (("short_row.csv",), "line 3: expected 3 fields, found 2."),
        (("empty.csv",), "empty.csv is empty: expected a header line."),
        (("no_such_file.csv",), "cannot read"),
        (("valid_long.csv", "--format", "xml"), "unknown --format 'xml'; use 'long' or 'wide'."),
        (("valid_long.csv", "--train-until", "2024-12-01"), "no rows before --train-until 2024-12-01"),
        (("valid_long.csv", "--train-until", "2025-01-02"), "no rows on or after --train-until 2025-01-02"),
        (("valid_long.csv", "--train-until", "1 January"), "--train-until '1 January' is not a date"),
        (("valid_long.csv", "--horizons", "1,x"), "--horizons '1,x': 'x' is not a whole number of hours"),
        (("valid_long.csv", "--horizons", "0"), "from 1 to 168"),
        (("valid_long.csv", "--horizons", "169"), "from 1 to 168"),
        (("valid_long.csv", "--threads", "0"), "--threads must be at least 1."),
        (("valid_long.csv", "--threads", "two"), "argument --threads: invalid int value: 'two'"),
    ],
)
def test_bad_input_names_the_problem_and_exits_with_2(args, message):
    name, *rest = args
    if "--train-until" not in rest:
        rest += ["--train-until", "2025-01-01"]
    with pytest.raises(CommandError) as error:
        run("--csv", str(FIXTURES / name), *rest)
    assert error.value.returncode == 2
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--train-until", "2025-01-01"), "--csv FILE is required."),
        (("--csv", str(FIXTURES / "valid_long.csv")), "--train-until YYYY-MM-DD is required."),
        (("--csv", "x.csv", "--train-until", "2025-01-01", "--bogus"), "unrecognized arguments: --bogus"),
    ],
)
def test_missing_and_unknown_options_exit_with_2(args, message):
    with pytest.raises(CommandError) as error:
        run(*args)
    assert error.value.returncode == 2
    assert message in str(error.value)


def test_from_the_shell_bad_input_goes_to_stderr_with_status_2(tmp_path):
    done = manage(
        "--csv", str(FIXTURES / "duplicate_long.csv"), "--train-until", "2025-01-01", tmp_path=tmp_path
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "CommandError: " in done.stderr
    assert (
        "line 5: duplicate timestamp 2025-01-01T01:00:00+00:00 for series 'a' (already on line 3)."
        in done.stderr
    )

    done = manage("--csv", "x.csv", "--bogus", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "error: unrecognized arguments: --bogus" in done.stderr


def test_from_the_shell_json_is_the_only_output(small, tmp_path):
    done = manage(
        "--csv", str(small / "wide.csv"), "--format", "wide", "--train-until", "2025-02-03", "--json",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"1", "3", "24"}
    assert all(set(score) == KEYS for score in result.values())


def test_help_says_naive_timestamps_are_utc():
    parser = Command().create_parser("manage.py", "backtest")
    text = " ".join(parser.format_help().split())
    assert "[--format long|wide]" in text
    assert "ISO 8601 on whole hours; without an offset they are UTC" in text


def test_json_band_coverage_and_width_come_from_the_scored_predictions(tmp_path, monkeypatch):
    # One sensor: a week of 10s, then four scored hours. The forecaster is replaced by fixed
    # predictions so every figure can be worked out by hand from the same points the MAE uses.
    from areas.forecasting import engine

    path = tmp_path / "tiny.csv"
    lines = ["series,timestamp,value"]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for k in range(168):
        lines.append(f"a,{(start + timedelta(hours=k)).isoformat()},10")
    for k, value in enumerate((12, 8, 20, 10)):
        lines.append(f"a,{(start + timedelta(hours=168 + k)).isoformat()},{value}")
    path.write_text("\n".join(lines) + "\n")
    p10, p50, p90 = np.array([9.0, 7, 15, 10]), np.array([11.0, 8, 14, 10]), np.array([13.0, 9, 18, 10])

    def fixed(ensemble, panel, t, h, config, *, intervals):
        assert intervals and t.size == 4
        return p10.copy(), p50.copy(), p90.copy(), np.full(t.size, feats.NAIVE, dtype=np.int8)

    monkeypatch.setattr(engine, "_forecast_points", fixed)
    result = json.loads(
        run("--csv", str(path), "--horizons", "1,24", "--train-until", "2025-01-08", "--json")
    )
    for score in result.values():
        assert score["n"] == 4
        # |p50 - actual| = 1, 0, 6, 0; the baseline (10 a week earlier) is off by 2, 2, 10, 0.
        assert score["mae_model"] == pytest.approx(7 / 4)
        assert score["mae_seasonal_naive"] == pytest.approx(14 / 4)
        assert score["ratio"] == pytest.approx(0.5)
        # 12 in [9, 13], 8 in [7, 9], 20 not in [15, 18], 10 in [10, 10] (the bounds count as inside).
        assert score["coverage_p10_p90"] == pytest.approx(3 / 4)
        assert score["mean_interval_width"] == pytest.approx((4 + 2 + 3 + 0) / 4)


def test_score_points_by_hand():
    from areas.forecasting.engine import score_points

    actual = np.array([0.0, 5, 10, 30, 100])
    score = score_points(
        actual,
        baseline=np.array([1.0, 5, 20, 30, 50]),
        p50=np.array([0.0, 6, 12, 25, 90]),
        p10=np.array([0.0, 5.5, 8, 20, 60]),
        p90=np.array([2.0, 9, 10, 28, 140]),
        by_model=np.array([True, True, False, True, True]),
    )
    assert score.n == 5
    assert score.mae_model == pytest.approx((0 + 1 + 2 + 5 + 10) / 5)
    assert score.mae_seasonal_naive == pytest.approx((1 + 0 + 10 + 0 + 50) / 5)
    assert score.ratio == pytest.approx(18 / 61)
    assert score.coverage_80 == pytest.approx(3 / 5)  # 0, 10 (on the bound) and 100 are inside; 5 and 30 not
    assert score.mean_interval_width == pytest.approx((2 + 3.5 + 2 + 8 + 80) / 5)
    assert score.model_share == pytest.approx(0.8)
    without = score_points(actual, actual, actual)
    assert without.coverage_80 is None and without.mean_interval_width is None and without.ratio is None


def test_outage_runs_become_gaps_and_quiet_nights_stay():
    from areas.forecasting.data import mask_outages

    hours = np.arange(40)
    values = np.array([0.0] * 5 + [3.0] * 2 + [0.0] * 24 + [7.0] * 4 + [5.0] * 5)
    masked, count = mask_outages(hours, values, zero_hours=24, stuck_hours=5)
    assert count == 24 + 5
    assert np.isnan(masked[7:31]).all() and np.isnan(masked[35:]).all()
    assert (masked[:7] == values[:7]).all() and (masked[31:35] == 7).all()


def test_a_real_auckland_sample_backtests_with_the_local_calendar():
    # Four weeks of three Auckland sensors (CC BY 4.0, see the fixtures README): too little for the
    # booster, so fallbacks forecast; the point is that real data and the NZ calendar go through.
    args = ("--csv", str(FIXTURES / "akl_sample.csv"), "--train-until", "2024-03-25", "--json")
    result = json.loads(
        run(*args, "--time-zone", "Pacific/Auckland", "--country", "NZ", "--subdivision", "AUK")
    )
    assert set(result) == {"1", "3", "24"}
    assert all(set(score) == KEYS and score["n"] > 400 for score in result.values())
    with pytest.raises(CommandError, match="IANA time zone"):
        run(*args, "--time-zone", "Mars/Olympus")


def test_a_real_melbourne_sample_backtests_with_the_victorian_calendar():
    # Four weeks of three Melbourne sensors (City of Melbourne, CC BY 4.0, see the fixtures README),
    # across Labour Day, Easter and the end of daylight saving: real data and the AU/VIC calendar go through.
    args = ("--csv", str(FIXTURES / "melb_sample.csv"), "--train-until", "2016-03-28", "--json")
    result = json.loads(
        run(*args, "--time-zone", "Australia/Melbourne", "--country", "AU", "--subdivision", "VIC")
    )
    assert set(result) == {"1", "3", "24"}
    assert all(set(score) == KEYS and score["n"] > 400 for score in result.values())
