"""How long ``manage.py backtest`` takes on a generated CSV of about a million hourly counts.

    .venv/bin/python bench/backtest_speed.py [--rows 1000000] [--format long|wide] [--threads 1 2]

Writes generated pedestrian counts (``areas.forecasting.synthetic``: 60 sensors, about two years,
with gaps) to a temporary CSV, then runs the real command in a subprocess, as a user would, once per
--threads value (default: 1, the command's default, then 2), and prints wall-clock and CPU time,
peak memory, the ratios and the band's coverage. The last 20 weeks are scored at horizons 1, 3 and 24. No database.
Run it on an otherwise idle machine: OpenMP threads slow down a lot when the cores are busy.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from _timing import run_measured  # noqa: E402

from areas.forecasting.csvio import write_long, write_wide  # noqa: E402
from areas.forecasting.synthetic import generate  # noqa: E402

SENSORS = 60
START = "2024-01-01"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("long", "wide"), default="long")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    weeks = max(30, math.ceil(args.rows / (SENSORS * 168 * 0.97)))  # about 2 % of hours are gaps
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"counts_{args.format}.csv"
        started = time.perf_counter()
        data = generate(start=START, weeks=weeks, sensors=SENSORS, seed=1)
        writer = write_long if args.format == "long" else write_wide
        writer(path, data.series)
        observations = sum(int(np.count_nonzero(~np.isnan(v))) for _, v in data.series.values())
        split = (date.fromisoformat(START) + timedelta(weeks=weeks - 20)).isoformat()
        print(
            f"generated {observations:,} observations of {SENSORS} sensors over {weeks} weeks "
            f"({path.stat().st_size / 1e6:.0f} MB {args.format} CSV) in {time.perf_counter() - started:.1f} s"
        )
        print(
            f"cores: {os.cpu_count()}; load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        for threads in args.threads:
            command = [
                sys.executable, "manage.py", "backtest", "--csv", str(path), "--format", args.format,
                "--horizons", "1,3,24", "--train-until", split, "--json",
            ]  # fmt: skip
            command += ["--threads", str(threads)]
            stdout, wall, cpu, peak_mb = run_measured(command, ROOT)
            print(f"$ {' '.join(command[1:])}")
            print(
                f"threads {threads}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
                f"peak memory (largest run so far) {peak_mb:.0f} MB"
            )
            for horizon, score in json.loads(stdout).items():
                print(
                    f"  {horizon:>2} h: ratio {score['ratio']:.3f}, in p10-p90 {score['coverage_p10_p90']:.1%}, "
                    f"mean width {score['mean_interval_width']:.1f}  (n {score['n']:,})"
                )


if __name__ == "__main__":
    main()
