"""System check: every tenant-owned model must be scoped, so a forgotten filter cannot leak data."""

from collections.abc import Iterable

from django.apps import apps
from django.core.checks import Error, Tags, register
from django.core.exceptions import FieldDoesNotExist
from django.db import models


def tenant_owned_models(all_models: Iterable[type[models.Model]]) -> list[type[models.Model]]:
    """Models that point at Tenant through a chain of forward foreign keys (fixpoint over the graph)."""
    from .models import Tenant

    all_models = list(all_models)
    owned: set[type[models.Model]] = {Tenant}
    changed = True
    while changed:
        changed = False
        for model in all_models:
            if model in owned or getattr(model, "tenant_scope_exempt", None):
                continue
            for field in model._meta.concrete_fields:
                points_up = field.is_relation and (field.many_to_one or field.one_to_one)
                if points_up and field.related_model in owned:
                    owned.add(model)
                    changed = True
                    break
    owned.discard(Tenant)
    return sorted(owned, key=lambda m: m._meta.label)


def _path_reaches_tenant(model: type[models.Model], path: str) -> bool:
    from .models import Tenant

    current = model
    try:
        for part in path.split("__"):
            field = current._meta.get_field(part)
            if not field.is_relation:
                return False
            current = field.related_model
    except FieldDoesNotExist:
        return False
    return current is Tenant


def unscoped_model_errors(all_models: Iterable[type[models.Model]]) -> list[Error]:
    """One error per tenant-owned model with a manager that is not a working tenant scope."""
    errors = []
    for model in tenant_owned_models(all_models):
        for manager in model._meta.managers:
            path = getattr(manager, "tenant_path", None)
            if path is None:
                errors.append(
                    Error(
                        f"{model._meta.label}.{manager.name} is not tenant-scoped.",
                        hint="Tenant-owned models use tenants.scoping.TenantScopedManager and no other.",
                        obj=model,
                        id="tenants.E001",
                    )
                )
            elif not _path_reaches_tenant(model, path):
                errors.append(
                    Error(
                        f"{model._meta.label}.{manager.name} scopes on '{path}', "
                        "which does not reach Tenant.",
                        obj=model,
                        id="tenants.E002",
                    )
                )
    return errors


@register(Tags.models)
def check_tenant_scoping(app_configs=None, **kwargs) -> list[Error]:
    """Fail ``manage.py check`` when a tenant-owned model can be queried without a tenant scope."""
    return unscoped_model_errors(apps.get_models())
