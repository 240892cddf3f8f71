"""``manage.py unlock_login <user name>``: platform staff end a user's log-in lock-out (tenants.lockout).

Tenant admins unlock their own members on the Members page or with ``POST .../members/{id}/unlock/``;
this command is for accounts without a tenant admin at hand (platform staff, the last admin). It is
recorded in the audit trail of every tenant the user belongs to.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tenants import lockout
from tenants.audit import audit_record_for_tenants
from tenants.selectors import memberships_of_user


class Command(BaseCommand):
    help = "End the log-in lock-out and failure count of a user name."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.")
        until = lockout.locked_until(username=username)
        lockout.unlock(username=username)
        audit_record_for_tenants(
            tenants=[m.tenant for m in memberships_of_user(user=user)], actor="manage.py unlock_login",
            action="member.unlock", object_type="user", object_id=user.pk, object_label=username,
            details={"user": username, "was_locked": until is not None},
        )  # fmt: skip
        if until is None:
            self.stdout.write(f"{username} was not locked; its failure count is cleared.")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"{username} is unlocked (the lock would have ended {until:%H:%M} UTC).")
            )
