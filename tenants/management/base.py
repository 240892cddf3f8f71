"""Base for management commands that work inside one tenant (``--tenant <slug>``)."""

from django.core.management.base import BaseCommand, CommandError

from ..models import Tenant
from ..scoping import tenant_scope


class TenantCommand(BaseCommand):
    """Resolves ``--tenant`` and runs :meth:`handle_tenant` inside that tenant's scope."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--tenant", required=True, help="Slug of the tenant to work in, e.g. den-haag.")
        return parser

    def handle(self, *args, **options):
        slug = options.pop("tenant")
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug '{slug}'.")
        with tenant_scope(tenant):
            return self.handle_tenant(tenant, *args, **options)

    def handle_tenant(self, tenant: Tenant, *args, **options):
        raise NotImplementedError
