"""``manage.py seed_demo``: idempotent demo tenants and one user per role (password 'demo')."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_scopes import scopes_disabled

from tenants.choices import Role
from tenants.demo import DEMO_PASSWORD, DEMO_TENANTS, demo_seeders
from tenants.models import Membership, Tenant
from tenants.scoping import tenant_scope

User = get_user_model()


class Command(BaseCommand):
    help = "Create the demo tenants (den-haag, rotterdam, koningsdag-events) with a user per role."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates users with the password 'demo'; it refuses to run with DEBUG off. "
                "Use --force on a machine that is not production."
            )
        with transaction.atomic():
            self._platform_admin()
            for spec in DEMO_TENANTS:
                tenant, _ = Tenant.objects.update_or_create(
                    slug=spec["slug"], defaults={"name": spec["name"], "kind": spec["kind"]}
                )
                users = {role: self._member(tenant, role) for role in Role.values}
                with tenant_scope(tenant):
                    for _name, seeder in demo_seeders():
                        seeder(tenant=tenant, users=users, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log-ins (password 'demo'):"))
        for spec in DEMO_TENANTS:
            self.stdout.write("  " + ", ".join(f"{spec['slug']}-{role}" for role in Role.values))
        self.stdout.write("  platform staff (Django admin): platform-admin")

    def _demo_user(self, username: str, **extra) -> "User":
        user, created = User.objects.get_or_create(username=username, defaults=extra)
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _platform_admin(self) -> None:
        user = self._demo_user("platform-admin", email="platform-admin@example.org")
        if not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])

    def _member(self, tenant: Tenant, role: str) -> "User":
        username = f"{tenant.slug}-{role}"
        user = self._demo_user(username, email=f"{username}@example.org")
        with scopes_disabled():
            Membership.objects.update_or_create(
                tenant=tenant, user=user, defaults={"role": role, "is_active": True}
            )
        return user
