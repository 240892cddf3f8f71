"""factory_boy factories, and ``make_for_tenant``: one object of a tenant-owned model for generated tests."""

import factory
from django.contrib.auth import get_user_model
from django_scopes import scopes_disabled

from tenants.choices import Role
from tenants.models import Membership, Tenant
from tenants.services import api_token_issue

PASSWORD = "secret-pass-123"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: f"Gemeente {o.slug.title()}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user-{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OPERATOR

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


def member(tenant: Tenant, role: str, username: str | None = None, **kwargs):
    """A user with ``role`` in ``tenant``."""
    user = UserFactory(username=username or f"{tenant.slug}-{role}")
    MembershipFactory(tenant=tenant, user=user, role=role, **kwargs)
    return user


def token_for(user, tenant: Tenant | None = None) -> str:
    """A raw API token for ``user``."""
    return api_token_issue(user=user, tenant=tenant)[1]


# One maker per tenant-owned model that an API route exposes. The generated cross-tenant test fails for a
# route whose model has no maker here, so every new endpoint gets covered.
TENANT_OBJECT_MAKERS = {
    Membership: lambda tenant: MembershipFactory(tenant=tenant, role=Role.ANALYST),
}


def make_for_tenant(model, tenant: Tenant):
    """Create one object of ``model`` owned by ``tenant``."""
    try:
        maker = TENANT_OBJECT_MAKERS[model]
    except KeyError:
        raise LookupError(
            f"No maker for {model._meta.label} in tests/factories.py TENANT_OBJECT_MAKERS; add one so the "
            "generated cross-tenant test covers its routes."
        ) from None
    with scopes_disabled():
        return maker(tenant)
