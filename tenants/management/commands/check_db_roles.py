"""``manage.py check_db_roles``: probe, as the application's database role, that the audit trail and the
action log are out of its reach (tenants.dbroles). Changes nothing; exit status 1 when a check fails."""

from django.core.management.base import BaseCommand, CommandError

from tenants.dbroles import check


class Command(BaseCommand):
    help = "Check that the application's database role cannot change the audit trail or the action log."

    def handle(self, *args, **options):
        findings = check()
        for finding in findings:
            mark = self.style.SUCCESS("ok  ") if finding.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {finding.check}: {finding.detail}")
        failed = [f for f in findings if not f.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(findings)} checks failed (see docs/operations.md).")
        self.stdout.write(self.style.SUCCESS(f"All {len(findings)} checks passed."))
