"""Registry of demo seeders: each app adds its part of ``seed_demo`` without tenants importing it.

A seeder is ``fn(*, tenant, users, stdout)``, run inside the tenant's scope, idempotent. ``users``
maps role -> the demo user of that role in this tenant.
"""

from collections.abc import Callable

DemoSeeder = Callable[..., None]
_seeders: list[tuple[int, str, DemoSeeder]] = []


def register_demo_seeder(order: int, name: str) -> Callable[[DemoSeeder], DemoSeeder]:
    """Decorator: run ``fn`` for every demo tenant, lower ``order`` first."""

    def decorate(fn: DemoSeeder) -> DemoSeeder:
        if not any(existing == name for _, existing, _ in _seeders):
            _seeders.append((order, name, fn))
        return fn

    return decorate


def demo_seeders() -> list[tuple[str, DemoSeeder]]:
    return [(name, fn) for _, name, fn in sorted(_seeders, key=lambda s: (s[0], s[1]))]


DEMO_TENANTS = [
    {"slug": "den-haag", "name": "Gemeente Den Haag", "kind": "municipality"},
    {"slug": "rotterdam", "name": "Gemeente Rotterdam", "kind": "municipality"},
    {"slug": "koningsdag-events", "name": "Koningsdag Events", "kind": "event_organiser"},
]
DEMO_PASSWORD = "demo"  # noqa: S105  (documented demo log-in; seed_demo refuses to run with DEBUG off)
