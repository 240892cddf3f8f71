"""Forecast speed targets: tenant training time with 200 counters, and a backtest of a million rows.

    .venv/bin/python bench/forecast_speed.py [--counters 200 --days 365] [--rows 1000000] [--threads 1]

1. Training: generated hourly pedestrian counts (``areas.forecasting.synthetic``: daily and weekly shapes,
   holidays, weather, noise, outages and missing hours; seed 1) of ``--counters`` counters over ``--days``
   days, then ``engine.train(series, now=...)`` with ``EngineConfig()`` as production calls it (holdout
   scoring included; ``--threads`` other than 1 changes only the OpenMP threads). ``--covariates`` also
   passes the generated temperature and precipitation, as the Celery task passes weather. Target: < 60 s.
2. Backtest: a long CSV of at least ``--rows`` observations (120 counters, as many weeks as needed) in a
   temporary directory, then ``manage.py backtest --csv F --train-until T --json --threads N`` in a
   subprocess, as a user runs it: the wall time covers Python and Django start-up, reading the CSV,
   training and scoring. The last ``--score-weeks`` weeks are scored at the command's default horizons
   (1, 3 and 24 h). Target: < 180 s.

Wall time, process CPU time (all threads) and peak memory are printed per step (the command's peak only
with ``--only backtest``: after training, this process's high-water mark would be reported for it). No
database. Run it on an otherwise idle machine: OpenMP threads slow down a lot when the cores are busy.
"""

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from _timing import run_measured  # noqa: E402

from areas.forecasting.csvio import write_long  # noqa: E402
from areas.forecasting.data import hour_to_datetime  # noqa: E402
from areas.forecasting.engine import EngineConfig, train  # noqa: E402
from areas.forecasting.synthetic import generate  # noqa: E402

START = "2025-01-06"  # a Monday (UTC)
BACKTEST_COUNTERS = 120
TRAIN_TARGET_S = 60
BACKTEST_TARGET_S = 180


def _line(label: str, value: str) -> None:
    print(f"  {label:<26} {value}")


def _met(seconds: float, target: float) -> str:
    return f"target < {target:.0f} s: {'met' if seconds < target else 'not met'}"


def _observations(series) -> int:
    return sum(int(np.count_nonzero(~np.isnan(values))) for _, values in series.values())


def _trimmed(series, hours: int):
    """The series cut to their first ``hours`` hours (the generator works in whole weeks)."""
    return {name: (stamps[:hours], values[:hours]) for name, (stamps, values) in series.items()}


def bench_train(args) -> None:
    started = time.perf_counter()
    data = generate(start=START, weeks=math.ceil(args.days / 7), sensors=args.counters, seed=1)
    hours = args.days * 24
    series = _trimmed(data.series, hours)
    covariates = _trimmed(data.covariates, hours + 48) if args.covariates else None
    generated = time.perf_counter() - started
    last = int(np.datetime64(START, "h").astype(np.int64)) + hours - 1
    now = hour_to_datetime(last + 1) + timedelta(minutes=5)
    config = EngineConfig() if args.threads == 1 else EngineConfig(threads=args.threads)

    print(f"1. train(): {args.counters} counters x {args.days} days of hourly counts")
    _line(
        "observations", f"{_observations(series):,} (of {args.counters * hours:,} hours; the rest are gaps)"
    )
    _line("covariates", "temperature, precipitation" if covariates else "none")
    _line("generated in", f"{generated:.1f} s")
    _line("config", f"EngineConfig() defaults, threads={config.threads}")
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    model = train(series, covariates=covariates, config=config, now=now.astimezone(UTC))
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _line("wall time", f"{wall:.1f} s")
    _line("process CPU time", f"{cpu:.1f} s")
    _line("peak memory (process)", f"{peak:.0f} MB")
    _line("model", f"{model.method}: {model.note}")
    score = model.backtest.get(24)
    if score is not None and score.ratio is not None:
        _line("holdout 24 h", f"ratio {score.ratio:.3f}, in p10-p90 {score.coverage_80:.1%} (n {score.n:,})")
    _line("result", _met(wall, TRAIN_TARGET_S))


def bench_backtest(args, scratch: Path) -> None:
    rows_per_week = BACKTEST_COUNTERS * 168 * 0.97  # about 3 % of hours are gaps
    weeks = max(args.score_weeks + 10, math.ceil(args.rows / rows_per_week))
    started = time.perf_counter()
    while True:
        data = generate(start=START, weeks=weeks, sensors=BACKTEST_COUNTERS, seed=2)
        if _observations(data.series) >= args.rows:
            break
        weeks += 1
    path = scratch / "counts_long.csv"
    rows = write_long(path, data.series)
    generated = time.perf_counter() - started
    split = (date.fromisoformat(START) + timedelta(weeks=weeks - args.score_weeks)).isoformat()
    command = [
        sys.executable, "manage.py", "backtest", "--csv", str(path), "--train-until", split, "--json",
        "--threads", str(args.threads),
    ]  # fmt: skip

    print(f"2. manage.py backtest: {rows:,} rows of {BACKTEST_COUNTERS} counters over {weeks} weeks")
    _line("CSV", f"{path.stat().st_size / 1e6:.0f} MB long format, written in {generated:.1f} s")
    _line("command", " ".join(["python", *command[1:]]))
    _line("threads", str(args.threads))
    stdout, wall, cpu, peak_mb = run_measured(command, ROOT)
    _line("wall time", f"{wall:.1f} s (whole command, CSV reading included)")
    _line("process CPU time", f"{cpu:.1f} s")
    if args.only == "backtest":
        _line("peak memory (command)", f"{peak_mb:.0f} MB")
    else:  # Linux carries this process's high-water mark into the child across exec
        _line("peak memory (command)", "not measured here (run with --only backtest)")
    for horizon, score in json.loads(stdout).items():
        _line(
            f"{horizon} h",
            f"ratio {score['ratio']:.3f}, in p10-p90 {score['coverage_p10_p90']:.1%} (n {score['n']:,})",
        )
    _line("result", _met(wall, BACKTEST_TARGET_S))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counters", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--score-weeks", type=int, default=20, help="weeks scored by the backtest")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads (production default: 1)")
    parser.add_argument("--covariates", action="store_true", help="train with temperature and precipitation")
    parser.add_argument("--only", choices=("train", "backtest"), help="run one of the two measurements")
    args = parser.parse_args()

    print(f"cores: {os.cpu_count()}; load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.only != "backtest":
        bench_train(args)
    if args.only != "train":
        with tempfile.TemporaryDirectory(prefix="csm-forecast-speed-") as scratch:
            bench_backtest(args, Path(scratch))


if __name__ == "__main__":
    main()
