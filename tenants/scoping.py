"""Fail-closed tenant isolation on top of django-scopes.

Every tenant-owned model uses :func:`TenantScopedManager`; a query on it without an active tenant
scope raises ``ScopeError``. The scope is switched on by :func:`tenant_scope`, which only the request
layer (after the membership check), :class:`tenants.tasks.TenantTask` and ``--tenant`` management
commands call.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models
from django_scopes import ScopedManager, scope
from django_scopes.state import get_scope

SCOPE_DIMENSION = "tenant"


def TenantScopedManager(path: str = "tenant", manager_class: type[models.Manager] = models.Manager):  # noqa: N802
    """Return a manager that filters on ``path`` (a lookup reaching the Tenant) and raises without a scope."""
    manager = ScopedManager(_manager_class=manager_class, **{SCOPE_DIMENSION: path})
    type(manager).tenant_path = path
    return manager


@contextmanager
def tenant_scope(tenant) -> Iterator[None]:
    """Activate the scope of one saved tenant. Refuses ``None``: django-scopes would treat it as 'all'."""
    from .models import Tenant

    if not isinstance(tenant, Tenant) or tenant.pk is None:
        raise ValueError(f"tenant_scope needs a saved Tenant, got {tenant!r}")
    with scope(**{SCOPE_DIMENSION: tenant}):
        yield


def active_tenant():
    """Return the tenant whose scope is active, or None."""
    current = get_scope()
    if not current.get("_enabled", True):
        return None
    return current.get(SCOPE_DIMENSION)
