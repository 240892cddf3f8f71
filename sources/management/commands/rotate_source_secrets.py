"""``manage.py rotate_source_secrets``: re-encrypt every source secret with the newest key."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_scopes import scopes_disabled

from sources.models import Source
from sources.secrets import rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt all source secrets with the first key of SOURCE_SECRET_KEYS. Prepend a new key, "
        "run this, then remove the old key."
    )

    def handle(self, *args, **options):
        count = 0
        with scopes_disabled(), transaction.atomic():  # platform-wide maintenance over every tenant
            for source in Source.objects.exclude(secrets_encrypted="").select_for_update():
                try:
                    source.secrets_encrypted = rotate(source.secrets_encrypted)
                except Exception as exc:
                    raise CommandError(
                        f"Source {source.pk} ({source.tenant.slug}/{source.slug}) cannot be decrypted with "
                        "any configured key; nothing was changed."
                    ) from exc
                source.save(update_fields=["secrets_encrypted"])
                count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the secrets of {count} source(s)."))
