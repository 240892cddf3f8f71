"""The sections of a configuration package: what a section is, and the registry the importer runs.

A package is a header (format, version, provenance) and sections: the tenant's settings, crowd levels,
events, areas, sources, interventions, alert rules and roles. Each section belongs to the app whose
objects it carries and is written there, in ``<app>/package_sections.py``: it exports its part of a
package from a tenant, checks that part (every problem with its JSON path) and applies it. The export
(:func:`configpkg.selectors.config_package_build`) and the importer (:mod:`configpkg.importer`) only
orchestrate: the order, the transaction, the dry run, the report.

**Direction.** configpkg depends on the domain apps and never the reverse (tests/test_architecture.py).
So the domain apps' section modules import nothing from configpkg, not even for type hints: a section is
any object of the :class:`PackageSection` shape (a Protocol, matched by structure) and the context its
hooks receive has the :class:`ImportContext` shape, which the importer provides. configpkg collects the
sections itself, in ``ConfigpkgConfig.ready()`` (configpkg/apps.py), which imports each app's
``package_sections`` module and registers its ``SECTIONS``; no domain app imports configpkg at any time.

**Order.** Sections run in dependency order (``depends_on``: areas refer to events, sources to areas,
alert rules to areas and sources), and among sections that do not depend on each other by ``order``.
Checks and writes both run in that one order, so errors and report entries always come in the same
order. Which field identifies an item of a list section is the format's (``package.NATURAL_KEYS``).
"""

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol, runtime_checkable

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .importer import ImportReport

Action = Literal["created", "changed", "unchanged", "skipped"]


class ImportContext(Protocol):
    """What a section's hooks may use during one import (the importer is the implementation)."""

    tenant: Any
    actor: Any
    package: dict  # the package being imported (already known to be a JSON object)
    report: "ImportReport"  # .add(section, key, path, action, changes=, reason=), .error(path, message)
    geometry_mode: str  # import options: "keep" or "omit" the package's area geometry,
    geometries: dict  # replacement geometry per area slug,
    secrets: dict  # secrets per source slug,
    include_settings: bool  # and whether the tenant's own settings are replaced
    bad_sections: set[str]  # top-level keys with structural problems
    failed: set[tuple[str, str]]  # (section, natural key) of items with errors: not applied
    state: dict[str, dict]  # a section's own notes between its hooks, under its name
    results: dict[str, dict]  # after a section's apply: the tenant's objects of it by natural key
    skipped: dict[str, set[str]]  # natural keys of items left out on purpose, per section

    def items(self, section: str) -> list[tuple[int, dict]]:
        """The section's items that are objects without structural problems, with their index."""
        ...

    def each(self, section: str) -> Iterable[tuple[int, dict]]:
        """As :meth:`items`; an item that gains an error while the caller checks it is marked failed."""
        ...

    def package_keys(self, section: str) -> set[str]:
        """The natural keys of the section's readable items."""
        ...

    def known_keys(self, section: str) -> set[str]:
        """The natural keys a reference to the section may name: in the package or the tenant."""
        ...

    def guarded(self, section: str, key: str, path: str, write: Callable[[], None]) -> None:
        """Run one object's write in a savepoint; its validation errors are reported under ``path``."""
        ...

    def skip(self, reason: str) -> NoReturn:
        """Inside a guarded write: leave this object out on purpose (reported as skipped, not an error)."""
        ...


@runtime_checkable
class PackageSection(Protocol):
    """One section of a package, owned by the app whose objects it carries."""

    name: str  # the registry's key and the report's ``section`` (``settings`` for the tenant settings)
    keys: tuple[str, ...]  # the top-level keys of the package this section writes and reads
    depends_on: tuple[str, ...]  # sections whose objects this one refers to: checked and applied first
    order: int  # place among the sections that do not depend on each other

    def export(self, *, tenant, include_geometry: bool) -> dict[str, Any]:
        """This section's keys of a package built from ``tenant`` (inside the tenant's scope)."""
        ...

    def check_options(self, ctx: ImportContext) -> None:
        """Check the import options that name this section's objects (runs before the key checks)."""
        ...

    def validate(self, ctx: ImportContext) -> None:
        """Check this section's part of the package; report each problem with its JSON path."""
        ...

    def apply(self, ctx: ImportContext) -> None:
        """Apply this section's part, each object through ``ctx.guarded``, and fill ``ctx.results``."""
        ...

    def tenant_keys(self, tenant) -> set[str]:
        """The natural keys of the tenant's existing objects of this section (empty if it has none)."""
        ...


_registry: dict[str, PackageSection] = {}


def register_section(section: PackageSection) -> PackageSection:
    """Make a section part of every export and import; a name or a package key is taken only once."""
    if not isinstance(section, PackageSection):
        raise ImproperlyConfigured(f"{section!r} lacks what a package section has (see PackageSection)")
    current = _registry.get(section.name)
    if current is section:
        return section
    if current is not None:
        raise ImproperlyConfigured(f"Package section '{section.name}' is registered twice")
    for other in _registry.values():
        shared = set(section.keys) & set(other.keys)
        if shared:
            raise ImproperlyConfigured(
                f"Package key(s) {', '.join(sorted(shared))} of section '{section.name}' "
                f"already belong to section '{other.name}'"
            )
    _registry[section.name] = section
    return section


def registered_sections() -> list[PackageSection]:
    """Every registered section in the order they are checked, exported and applied."""
    return resolve_order(_registry.values())


def resolve_order(sections: Iterable[PackageSection]) -> list[PackageSection]:
    """Dependencies first; among sections free to go, the lowest ``order`` (then name) goes first."""
    pending = {s.name: s for s in sections}
    for section in pending.values():
        unknown = [d for d in section.depends_on if d not in pending]
        if unknown:
            raise ImproperlyConfigured(
                f"Package section '{section.name}' depends on unregistered section(s) {', '.join(unknown)}"
            )
    ordered: list[PackageSection] = []
    placed: set[str] = set()
    while pending:
        ready = [s for s in pending.values() if placed.issuperset(s.depends_on)]
        if not ready:
            raise ImproperlyConfigured(f"Package sections depend on each other: {', '.join(sorted(pending))}")
        first = min(ready, key=lambda s: (s.order, s.name))
        ordered.append(pending.pop(first.name))
        placed.add(first.name)
    return ordered
