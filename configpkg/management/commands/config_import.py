"""``manage.py config_import --tenant <slug> FILE [--apply]``: check (default) or apply a package.

Exit code 0 when the package is valid (and, with ``--apply``, applied); 2 when it is not, after printing
every problem with its JSON path. Nothing is imported unless everything is valid.
"""

import json
import sys

from django.core.management.base import CommandError

from configpkg.services import GEOMETRY_MODES, config_import
from core import jsonlimits
from tenants.management.base import TenantCommand

INVALID = 2


class Command(TenantCommand):
    help = "Import a configuration package into a tenant: a dry run unless --apply; all or nothing."

    def add_arguments(self, parser):
        parser.add_argument(
            "file", help="The package (JSON), e.g. from config_export; '-' for standard input."
        )
        parser.add_argument(
            "--apply", action="store_true", help="Apply it (default: dry run, change nothing)."
        )
        parser.add_argument(
            "--geometry",
            choices=GEOMETRY_MODES,
            default="keep",
            help="keep the package's area geometry, or omit it (new areas without geometry are skipped).",
        )
        parser.add_argument(
            "--keep-settings",
            action="store_true",
            help="Keep the tenant's own time zone, retention, map and public page settings.",
        )

    def handle_tenant(self, tenant, *args, **options):
        package = self._read(options["file"])
        report = config_import(
            tenant=tenant,
            actor=None,
            package=package,
            dry_run=not options["apply"],
            geometry=options["geometry"],
            settings=not options["keep_settings"],
        )
        for entry in report.objects:
            line = f"{entry['action']:<10} {entry['path']:<24} {entry['key']}"
            if entry.get("changes"):
                line += f"  ({', '.join(entry['changes'])})"
            if entry.get("reason"):
                line += f"  [{entry['reason']}]"
            self.stdout.write(line)
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        if report.errors:
            for problem in report.errors:
                self.stderr.write(f"error: {problem}")
            raise CommandError(
                f"{len(report.errors)} problem(s) in the package; nothing was imported.", returncode=INVALID
            )
        for item in report.secrets_required:
            self.stdout.write(
                f"secrets required: source '{item['source']}' needs {', '.join(item['secrets'])} "
                "(enter them in the API or the sources page; it stays disabled until then)"
            )
        counts = ", ".join(f"{n} {action}" for action, n in report.counts().items())
        verb = "Applied" if report.applied else "Dry run (nothing changed; --apply to import)"
        self.stdout.write(self.style.SUCCESS(f"{verb}: {counts}."))

    def _read(self, name: str):
        try:
            if name == "-":
                return jsonlimits.load(sys.stdin)
            with open(name, encoding="utf-8") as handle:
                return jsonlimits.load(handle)
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror}.", returncode=INVALID) from exc
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{name} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.", returncode=INVALID
            ) from exc
