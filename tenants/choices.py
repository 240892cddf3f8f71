"""Choices of the tenants app: kinds of tenant, member roles and what each role may do."""

from enum import StrEnum

from django.db import models


class TenantKind(models.TextChoices):
    MUNICIPALITY = "municipality", "municipality"
    POLICE_UNIT = "police_unit", "police unit"
    EVENT_ORGANISER = "event_organiser", "event organiser"
    OTHER = "other", "other"


class Role(models.TextChoices):
    ADMIN = "admin", "admin"
    OPERATOR = "operator", "operator"
    ANALYST = "analyst", "analyst (read-only)"
    ORGANISER = "organiser", "event organiser"
    INTEGRATION = "integration", "integration (machine account)"


class Capability(StrEnum):
    """A right inside one tenant. Views ask for a capability, never for a role name."""

    VIEW = "view"  # read the tenant's crowd picture, areas, sources, action log
    OPERATE = "operate"  # acknowledge alerts, log actions and incidents
    MANAGE = "manage"  # configure areas, sources, alert rules, tenant settings
    MEMBERS = "members"  # invite members, change roles, remove members
    EXPORT = "export"  # exports and reports
    PUSH = "push"  # push observations for sources
    EVENTS = "events"  # work on the events and zones one was given (django-guardian object rights)
    AUDIT = "audit"  # read the tenant's audit trail (admins)


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.OPERATOR: frozenset({Capability.VIEW, Capability.OPERATE}),
    Role.ANALYST: frozenset({Capability.VIEW, Capability.EXPORT}),
    Role.ORGANISER: frozenset({Capability.EVENTS}),
    Role.INTEGRATION: frozenset({Capability.PUSH}),
}


def role_has(role: str, capability: Capability) -> bool:
    """Tell whether a member with ``role`` has ``capability``."""
    return capability in ROLE_CAPABILITIES.get(role, frozenset())
