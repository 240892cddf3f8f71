"""``manage.py demo_otp <username>``: print the current code of a demo user's authenticator (demo only)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.mfa import current_code


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo user (runs with DEBUG on, or --force)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, username, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "demo_otp prints second-factor codes; it refuses to run with DEBUG off. "
                "Use --force on a machine that is not production."
            )
        user = get_user_model().objects.filter(username=username).first()
        device = user and TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            raise CommandError(f"{username} has no authenticator. Run `manage.py seed_demo` first.")
        self.stdout.write(
            f"{current_code(device)}  (code for {username}; a new one every 30 s, each works once)"
        )
