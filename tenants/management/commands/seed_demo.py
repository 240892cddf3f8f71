"""``manage.py seed_demo``: idempotent demo tenants and one user per role (password 'demo').

Each registered seeder runs per tenant in its scope; then each registered finisher runs once, with no scope
active, for the demo data that spans tenants (tenants/demo.py).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_scopes import scopes_disabled

from tenants.choices import Role
from tenants.demo import DEMO_PASSWORD, DEMO_TENANTS, demo_finishers, demo_seeders
from tenants.mfa import DEMO_TOTP_SECRET_BASE32, demo_totp_device_ensure
from tenants.models import Membership, Tenant
from tenants.scoping import tenant_scope

User = get_user_model()


class Command(BaseCommand):
    help = (
        "Create the demo tenants (den-haag, rotterdam, koningsdag-events, politie-den-haag) with a user per "
        "role, and the joint operation Koningsdag Den Haag between them."
    )

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
            tenants, users_by_tenant = {}, {}
            for spec in DEMO_TENANTS:
                tenant, _ = Tenant.objects.update_or_create(
                    slug=spec["slug"], defaults={"name": spec["name"], "kind": spec["kind"]}
                )
                users = {role: self._member(tenant, role) for role in Role.values}
                tenants[tenant.slug], users_by_tenant[tenant.slug] = tenant, users
                with tenant_scope(tenant):
                    for _name, seeder in demo_seeders():
                        seeder(tenant=tenant, users=users, stdout=self.stdout)
            # Across tenants, with no scope active: each finisher enters the scope of the tenant it acts as.
            for _name, finisher in demo_finishers():
                finisher(tenants=tenants, users_by_tenant=users_by_tenant, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log-ins (password 'demo'):"))
        for spec in DEMO_TENANTS:
            self.stdout.write("  " + ", ".join(f"{spec['slug']}-{role}" for role in Role.values))
        self.stdout.write("  platform staff (Django admin): platform-admin")
        self.stdout.write(
            "Admins and platform-admin also need a second factor. Their demo authenticator secret is "
            f"{DEMO_TOTP_SECRET_BASE32} (add it to an authenticator app, or scan "
            f"otpauth://totp/Crowd%20Safety%20Manager:den-haag-admin?secret={DEMO_TOTP_SECRET_BASE32}"
            "&issuer=Crowd%20Safety%20Manager); or print the current code with "
            "`DEBUG=true .venv/bin/python manage.py demo_otp den-haag-admin`."
        )

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
        demo_totp_device_ensure(user)

    def _member(self, tenant: Tenant, role: str) -> "User":
        username = f"{tenant.slug}-{role}"
        user = self._demo_user(username, email=f"{username}@example.org")
        with scopes_disabled():
            Membership.objects.update_or_create(
                tenant=tenant, user=user, defaults={"role": role, "is_active": True}
            )
        if role == Role.ADMIN:
            demo_totp_device_ensure(user)  # admins need a second factor; the demo's secret is documented
        return user
