"""``manage.py list_members --tenant <slug>``: the members of one tenant and their roles."""

from tenants.management.base import TenantCommand
from tenants.selectors import membership_list


class Command(TenantCommand):
    help = "List the members of a tenant with their roles."

    def handle_tenant(self, tenant, *args, **options):
        for membership in membership_list(tenant=tenant):
            state = "" if membership.is_active else "  (inactive)"
            self.stdout.write(f"{membership.user.username:<32} {membership.role:<12}{state}")
