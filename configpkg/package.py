"""The configuration package format: its JSON Schema, version rule and structural checks.

``version`` is the version of the FORMAT, ``major.minor``. This platform writes ``FORMAT_VERSION`` and
reads every minor version of the same major version (fields it does not know are reported and
ignored); a newer major version is rejected, because its fields may mean something else.
"""

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jsonschema

FORMAT_NAME = "csm-config-package"
FORMAT_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).parent / "schema" / "config-package.json"
SECTIONS = {  # list section -> the schema definition of one item
    "events": "event",
    "areas": "area",
    "sources": "source",
    "alert_rules": "alert_rule",
    "interventions": "intervention",
    "roles": "role",
}
# List section -> the field that identifies an item: an import matches objects by it, and a key given twice
# is an error. Duplicates are reported in this order.
NATURAL_KEYS = {
    "events": "slug",
    "areas": "slug",
    "sources": "slug",
    "interventions": "slug",
    "alert_rules": "name",
    "roles": "role",
}
HEADER_KEYS = ("format", "version", "exported_at", "source_tenant", "template", "includes_geometry")
_VERSION = re.compile(r"^(\d+)\.(\d+)$")


@cache
def package_schema() -> dict:
    """The published JSON Schema of the package format (served at /api/v1/schemas/config-package.json)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@dataclass
class Problem:
    """One thing wrong with a package, with a JSON path such as ``alert_rules[3].area``."""

    path: str
    message: str

    def as_dict(self) -> dict:
        return {"path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class StructureCheck:
    """Result of the structural checks: problems (reject) and warnings (ignored fields)."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def in_package_order(package: dict) -> dict:
    """The package's keys in the order of the schema's properties (how every export lays them out)."""
    order = {key: position for position, key in enumerate(package_schema()["properties"])}
    return dict(sorted(package.items(), key=lambda item: order.get(item[0], len(order))))


def json_path(parts) -> str:
    """``['alert_rules', 3, 'area']`` -> ``alert_rules[3].area``; the root is ``(package)``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(package)"


def check_structure(package) -> StructureCheck:
    """Format name, version and the JSON Schema; every problem is collected, none stops the others."""
    result = StructureCheck()
    if not isinstance(package, dict):
        result.problems.append(Problem("(package)", "A package is a JSON object; see the published schema."))
        return result
    version = package.get("version")
    match = _VERSION.match(version) if isinstance(version, str) else None
    major = int(FORMAT_VERSION.split(".")[0])
    if match and int(match[1]) > major:
        result.problems.append(
            Problem(
                "version",
                f"Format version {version} is newer than this platform reads ({major}.x); "
                "export the package again from a platform of the same major version, or upgrade.",
            )
        )
    validator = jsonschema.Draft202012Validator(package_schema())
    for error in sorted(validator.iter_errors(package), key=lambda e: [str(p) for p in e.absolute_path]):
        result.problems.append(Problem(json_path(error.absolute_path), _schema_message(error)))
    result.warnings.extend(_unknown_fields(package))
    return result


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "oneOf" and error.context:
        # "x is not valid under any of the given schemas" says little: name the closest branch's reason.
        best = jsonschema.exceptions.best_match(error.context)
        return best.message
    if error.validator == "const" and list(error.absolute_path) == ["format"]:
        return f"Not a configuration package: 'format' must be '{FORMAT_NAME}'."
    return error.message


def _unknown_fields(package: dict) -> list[str]:
    """Fields this format version does not define (a newer minor version may add some): ignored."""
    schema = package_schema()
    warnings = [f"{key}: unknown field, ignored" for key in package if key not in schema["properties"]]
    for section, definition in SECTIONS.items():
        items = package.get(section)
        known = set(schema["$defs"][definition]["properties"])
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if isinstance(item, dict):
                warnings.extend(
                    f"{section}[{index}].{key}: unknown field, ignored" for key in item if key not in known
                )
    return warnings
