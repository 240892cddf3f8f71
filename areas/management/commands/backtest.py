"""``manage.py backtest``: forecast accuracy on a CSV of hourly counts against the seasonal-naive baseline."""

import json
import time
from datetime import UTC, datetime

import holidays
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from areas.forecasting.csvio import CsvError, read_series
from areas.forecasting.data import hour_to_datetime
from areas.forecasting.engine import MAX_HORIZON, EngineConfig, backtest
from tenants.models import validate_time_zone

EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    help = (
        "Backtest the crowd forecasting engine on hourly counts from a CSV, without the database. For each "
        "horizon h: train on the data before --train-until, forecast every later hour from what was known "
        "h hours earlier, and compare the MAE with that of the weekly seasonal-naive baseline (the value "
        "168 hours earlier), over the points where the actual and the baseline both exist. Long CSV: "
        "columns series,timestamp,value; wide CSV: timestamp, then one column per series. Timestamps are "
        "ISO 8601 on whole hours; without an offset they are UTC. Empty values are gaps. Bad input exits "
        "with status 2 and a message naming the line."
    )
    requires_system_checks = []  # pure computation: no models, no database, nothing to check

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        argparse_error = parser.error

        # Usage errors exit with 2 from the shell (argparse's own convention); make call_command
        # agree instead of Django's default of 1, so every kind of bad input has one status.
        def error(message):
            if parser.called_from_command_line:
                argparse_error(message)
            raise CommandError(f"Error: {message}", returncode=EXIT_BAD_INPUT)

        parser.error = error
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--csv", metavar="FILE", help="CSV file with hourly counts (required).")
        parser.add_argument(
            "--format",
            default="long",
            metavar="long|wide",
            help="long: series,timestamp,value per row (default); wide: timestamp then a column per series.",
        )
        parser.add_argument(
            "--horizons",
            default="1,3,24",
            help=f"Comma-separated forecast horizons in hours, 1 to {MAX_HORIZON} (default 1,3,24).",
        )
        parser.add_argument(
            "--train-until",
            metavar="YYYY-MM-DD",
            help="Split date (required): data before 00:00 UTC of this day trains, later hours are scored.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object {horizon: {mae_model, ...}} only."
        )
        parser.add_argument(
            "--time-zone",
            default="Europe/Amsterdam",
            metavar="ZONE",
            help="IANA time zone of the local hour, weekday and holidays (default Europe/Amsterdam).",
        )
        parser.add_argument(
            "--country",
            default="NL",
            metavar="CODE",
            help="ISO 3166 country whose public (and known school) holidays are features (default NL).",
        )
        parser.add_argument(
            "--subdivision",
            metavar="CODE",
            help="The country's region for regional holidays, e.g. AUK for Auckland (default: none).",
        )
        parser.add_argument(
            "--outage-zero-hours",
            type=int,
            default=None,
            metavar="N",
            help=(
                "Read a run of N or more zero hours as a sensor outage (a gap, not 0 people), in training "
                "and scoring alike (default: the engine's setting)."
            ),
        )
        parser.add_argument(
            "--outage-stuck-hours",
            type=int,
            default=None,
            metavar="N",
            help="Read a run of N or more hours of one same non-zero value as a stuck sensor (a gap).",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            help=(
                "OpenMP threads for the boosters (default 1). More help only on large files on an idle "
                "machine; on a busy one OpenMP threads can wait on each other and run far slower."
            ),
        )

    def handle(self, *args, **options):
        path, fmt = options["csv"], options["format"]
        if not path:
            raise _bad_input("--csv FILE is required.")
        if fmt not in ("long", "wide"):
            raise _bad_input(f"unknown --format {fmt!r}; use 'long' or 'wide'.")
        horizons = _horizons(options["horizons"])
        split = _split(options["train_until"])
        threads = options["threads"]
        if threads is not None and threads < 1:
            raise _bad_input("--threads must be at least 1.")
        outages = {}
        for option in ("outage_zero_hours", "outage_stuck_hours"):
            if options[option] is not None:
                if options[option] < 0:
                    raise _bad_input(f"--{option.replace('_', '-')} must be 0 (off) or more hours.")
                outages[option] = options[option]

        calendar = _calendar(options["time_zone"], options["country"], options["subdivision"])

        started = time.monotonic()
        try:
            series = read_series(path, fmt)
        except CsvError as exc:
            raise _bad_input(f"{path}: {exc}") from None
        split_hour = int(split.timestamp() // 3600)
        first, last, before, after = _extent(series, split_hour)
        if first is None:
            raise _bad_input(f"{path}: no observations (every row is empty or a gap).")
        span = f"the data runs from {_iso(first)} to {_iso(last)}"
        if not before:
            raise _bad_input(f"{path}: no rows before --train-until {split.date()} (00:00 UTC); {span}.")
        if not after:
            raise _bad_input(f"{path}: no rows on or after --train-until {split.date()} (00:00 UTC); {span}.")
        read_seconds = time.monotonic() - started

        config = EngineConfig(threads=threads, **calendar, **outages)
        scores = backtest(
            series, train_until=split, horizons=horizons, config=config, intervals=True, cleaned=True
        )
        if options["json"]:
            result = {
                str(h): {
                    "mae_model": s.mae_model,
                    "mae_seasonal_naive": s.mae_seasonal_naive,
                    "ratio": s.ratio,
                    "n": s.n,
                    "coverage_p10_p90": s.coverage_80,
                    "mean_interval_width": s.mean_interval_width,
                }
                for h, s in scores.items()
            }
            self.stdout.write(json.dumps(result))
            return
        total = time.monotonic() - started
        self.stdout.write(
            f"{len(series)} series, {before + after} observations ({span}); trained on the {before} before "
            f"{split.date()} 00:00 UTC, scored the {after} from then on."
        )
        columns = (
            "horizon",
            "n",
            "MAE model",
            "MAE seasonal naive",
            "ratio",
            "by model",
            "in p10-p90",
            "width",
        )
        widths = (8, 9, 10, 19, 6, 9, 10, 8)
        self.stdout.write(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
        for h, s in scores.items():
            cells = (
                f"{h} h",
                str(s.n),
                "-" if s.mae_model is None else f"{s.mae_model:.2f}",
                "-" if s.mae_seasonal_naive is None else f"{s.mae_seasonal_naive:.2f}",
                "-" if s.ratio is None else f"{s.ratio:.3f}",
                "-" if s.model_share is None else f"{s.model_share:.0%}",
                "-" if s.coverage_80 is None else f"{s.coverage_80:.1%}",
                "-" if s.mean_interval_width is None else f"{s.mean_interval_width:.1f}",
            )
            self.stdout.write(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
        self.stdout.write(
            "ratio = MAE model / MAE seasonal naive (the value 168 hours earlier); below 1 beats it. "
            "by model: share of the hours the boosted model forecast; the others had too little history "
            "and got a fallback (hour-of-week profile, seasonal naive or recent mean). in p10-p90: share of "
            "the actuals inside the 80 % band (aim: about 80 %); width: mean p90 - p10 in counts. "
            f"Took {total:.1f} s ({read_seconds:.1f} s reading)."
        )


def _bad_input(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_BAD_INPUT)


def _calendar(zone: str, country: str, subdivision: str | None) -> dict:
    try:
        validate_time_zone(zone)
    except ValidationError:
        raise _bad_input(f"--time-zone {zone!r} is not an IANA time zone (e.g. Europe/Amsterdam).") from None
    country = (country or "").upper()
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise _bad_input(f"--country {country!r} is not a country the holidays package knows (e.g. NL).")
    if subdivision is not None and subdivision not in supported[country]:
        raise _bad_input(
            f"--subdivision {subdivision!r} is not a subdivision of {country} "
            f"(known: {', '.join(supported[country]) or 'none'})."
        )
    return {"time_zone": zone, "country": country, "subdivision": subdivision}


def _horizons(text: str) -> list[int]:
    horizons = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= MAX_HORIZON:
            raise _bad_input(
                f"--horizons {text!r}: {part!r} is not a whole number of hours from 1 to {MAX_HORIZON}."
            )
        if int(part) not in horizons:
            horizons.append(int(part))
    return horizons


def _split(text: str | None) -> datetime:
    if not text:
        raise _bad_input("--train-until YYYY-MM-DD is required.")
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise _bad_input(f"--train-until {text!r} is not a date in the form YYYY-MM-DD.") from None
    return day.replace(tzinfo=UTC)


def _extent(series, split_hour: int):
    """(first hour, last hour, observations before the split, observations from it on)."""
    first = last = None
    before = after = 0
    for hours, _ in series.values():
        if hours.size == 0:
            continue
        first = int(hours[0]) if first is None else min(first, int(hours[0]))
        last = int(hours[-1]) if last is None else max(last, int(hours[-1]))
        cut = int((hours < split_hour).sum())
        before += cut
        after += hours.size - cut
    return first, last, before, after


def _iso(hour: int) -> str:
    return hour_to_datetime(hour).strftime("%Y-%m-%d %H:%M UTC")
