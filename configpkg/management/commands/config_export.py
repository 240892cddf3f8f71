"""``manage.py config_export --tenant <slug> [-o file] [--no-geometry]``: a tenant's configuration package."""

import json

from configpkg.selectors import config_package_build
from tenants.management.base import TenantCommand


class Command(TenantCommand):
    help = "Write the tenant's configuration (secrets left out) as a versioned JSON package."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="File to write (default: standard output).")
        parser.add_argument(
            "--no-geometry", action="store_true", help="Leave the area geometry out (the importer draws it)."
        )

    def handle_tenant(self, tenant, *args, **options):
        package = config_package_build(tenant=tenant, include_geometry=not options["no_geometry"])
        text = json.dumps(package, indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
            counts = ", ".join(
                f"{len(package[s])} {s.replace('_', ' ')}"
                for s in ("areas", "sources", "alert_rules", "interventions")
            )
            self.stderr.write(f"Wrote {options['output']}: {counts}.")
        else:
            self.stdout.write(text, ending="")
