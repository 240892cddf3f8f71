"""``manage.py create_tenant <slug> --name ... --admin-email ...``: platform staff onboard a tenant."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.audit import system_actor
from tenants.choices import TenantKind
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant and its first admin, and print the admin's set-password link."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL name of the tenant, e.g. 'utrecht'.")
        parser.add_argument("--name", required=True, help="Display name, e.g. 'Gemeente Utrecht'.")
        parser.add_argument("--admin-email", required=True, help="E-mail of the tenant's first admin.")
        parser.add_argument("--kind", choices=TenantKind.values, default=TenantKind.MUNICIPALITY)
        parser.add_argument("--time-zone", default="Europe/Amsterdam")

    def handle(self, *args, **options):
        try:
            with system_actor("manage.py create_tenant"):
                tenant, invitation = tenant_create(
                    slug=options["slug"],
                    name=options["name"],
                    kind=options["kind"],
                    time_zone=options["time_zone"],
                    admin_email=options["admin_email"],
                )
        except ValidationError as exc:
            messages = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in exc.message_dict.items())
            raise CommandError(f"Tenant not created. {messages}") from exc
        self.stdout.write(self.style.SUCCESS(f"Created tenant '{tenant.slug}' ({tenant.name})."))
        user = invitation.membership.user
        self.stdout.write(f"Admin: {user.username} <{user.email}>")
        if invitation.set_password_url:
            self.stdout.write(f"Set-password link (also e-mailed): {invitation.set_password_url}")
        else:
            self.stdout.write("The admin already has an account and can log in with it.")
