"""The allowed direction between the apps, written once, here; the README's architecture section shows it.

An app may use the apps listed for it in ``ALLOWED`` and no other: not by an import (at the top of a
module or inside a function), not by a lazy model reference such as ``ForeignKey("areas.Area")``, and not
by a migration dependency. ``config`` is the project itself (settings, URLs, the Celery app): it wires
every app together, and no app imports it.

``KNOWN`` lists the crossings that are still there, each with the reason; the test fails for any crossing
not in ``ALLOWED`` or ``KNOWN``, and also when a known crossing has gone, so the list only shrinks.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CORE = {"core", "tenants"}  # the domain-free core, and tenants, members, roles, tokens, audit, scoping
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "tenants": {"core"},
    "sources": CORE,
    "areas": CORE | {"sources"},
    "incidents": CORE | {"sources", "areas"},
    "sharing": CORE | {"sources", "areas", "incidents"},
    "sta": CORE | {"sources", "areas"},
    "configpkg": CORE | {"sources", "areas", "incidents"},
    "frontend": CORE | {"sources", "areas", "incidents", "sharing", "configpkg", "sta"},
}
APPS = set(ALLOWED)

KNOWN: dict[tuple[str, str, str], str] = {
    # (app, used app, how): why it is still there
    ("sources", "areas", "model"): "Source.areas and Series.area are declared in sources (issue 18, item 1)",
    ("sources", "areas", "migration"): "sources 0001 creates those two links (issue 18, item 1)",
}

MODEL_REFERENCE = re.compile(r"^([a-z_]+)\.[A-Z]\w*$")
RELATION_FIELDS = {"ForeignKey", "OneToOneField", "ManyToManyField"}


def _modules(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _crossings(app: str) -> dict[tuple[str, str], list[str]]:
    """``{(used app, how): [where, ...]}`` for every use of another app of the platform (or of config)."""
    found: dict[tuple[str, str], list[str]] = {}

    def note(other: str, how: str, path: Path, node: ast.AST):
        if other != app and (other in APPS or other == "config"):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            found.setdefault((other, how), []).append(where)

    for path, tree in _modules(app):
        migration = "migrations" in path.parts
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    note(alias.name.split(".")[0], "import", path, node)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                note(node.module.split(".")[0], "import", path, node)
            elif isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in RELATION_FIELDS:
                    for arg in [*node.args[:1], *(k.value for k in node.keywords if k.arg == "to")]:
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                            match = MODEL_REFERENCE.match(arg.value)
                            if match:
                                note(match[1], "migration" if migration else "model", path, node)
            dependencies = isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "dependencies" for t in node.targets
            )
            if migration and dependencies:
                for element in getattr(node.value, "elts", []):
                    first = getattr(element, "elts", [None])[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        note(first.value, "migration", path, node)
    return found


@pytest.mark.parametrize("app", sorted(APPS))
def test_an_app_uses_only_the_apps_it_may(app):
    crossings = _crossings(app)
    forbidden = {
        f"{app} -> {other} ({how}): {', '.join(where[:3])}"
        for (other, how), where in crossings.items()
        if other not in ALLOWED[app] and (app, other, how) not in KNOWN
    }
    assert not forbidden, "\n".join(sorted(forbidden))
    gone = {known for known in KNOWN if known[0] == app and (known[1], known[2]) not in crossings}
    assert not gone, f"these crossings are gone, take them out of KNOWN: {sorted(gone)}"


def test_the_allowed_direction_has_no_cycle():
    visiting, done = set(), set()

    def visit(app: str, path: list[str]):
        assert app not in visiting, f"cycle: {' -> '.join([*path, app])}"
        if app in done:
            return
        visiting.add(app)
        for other in ALLOWED[app]:
            visit(other, [*path, app])
        visiting.discard(app)
        done.add(app)

    for app in sorted(APPS):
        visit(app, [])


def test_every_app_says_what_it_owns():
    for app in sorted(APPS):
        docstring = ast.get_docstring(ast.parse((ROOT / app / "__init__.py").read_text()))
        assert docstring and len(docstring) > 40, f"{app}/__init__.py has no docstring saying what it owns"
