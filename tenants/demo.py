"""Registry of demo seeders: each app adds its part of ``seed_demo`` without tenants importing it.

A seeder is ``fn(*, tenant, users, stdout)``, run inside the tenant's scope, idempotent. ``users``
maps role -> the demo user of that role in this tenant.

A finisher is ``fn(*, tenants, users_by_tenant, stdout)``, run once after every demo tenant was seeded,
idempotent, for demo data that spans tenants (a joint operation, sharing agreements). ``tenants`` maps
slug -> Tenant and ``users_by_tenant`` maps slug -> {role: user}. No scope is active when it runs: it
enters ``tenants.scoping.tenant_scope`` for each tenant it acts as.
"""

from collections.abc import Callable

DemoSeeder = Callable[..., None]
DemoFinisher = Callable[..., None]
_seeders: list[tuple[int, str, DemoSeeder]] = []
_finishers: list[tuple[int, str, DemoFinisher]] = []


def _register(registry: list, order: int, name: str) -> Callable:
    def decorate(fn):
        if not any(existing == name for _, existing, _ in registry):
            registry.append((order, name, fn))
        return fn

    return decorate


def register_demo_seeder(order: int, name: str) -> Callable[[DemoSeeder], DemoSeeder]:
    """Decorator: run ``fn`` for every demo tenant, lower ``order`` first."""
    return _register(_seeders, order, name)


def register_demo_finisher(order: int, name: str) -> Callable[[DemoFinisher], DemoFinisher]:
    """Decorator: run ``fn`` once after all demo tenants were seeded, lower ``order`` first."""
    return _register(_finishers, order, name)


def _sorted(registry: list) -> list[tuple[str, Callable]]:
    return [(name, fn) for _, name, fn in sorted(registry, key=lambda s: (s[0], s[1]))]


def demo_seeders() -> list[tuple[str, DemoSeeder]]:
    return _sorted(_seeders)


def demo_finishers() -> list[tuple[str, DemoFinisher]]:
    return _sorted(_finishers)


DEMO_TENANTS = [
    {"slug": "den-haag", "name": "Gemeente Den Haag", "kind": "municipality"},
    {"slug": "rotterdam", "name": "Gemeente Rotterdam", "kind": "municipality"},
    {"slug": "koningsdag-events", "name": "Koningsdag Events", "kind": "event_organiser"},
    {"slug": "politie-den-haag", "name": "Politie eenheid Den Haag", "kind": "police_unit"},
]
DEMO_PASSWORD = "demo"  # noqa: S105  (documented demo log-in; seed_demo refuses to run with DEBUG off)
