"""The import of a configuration package: the passes over the sections (``services.config_import``).

An import runs in three passes and answers with one report:

1. structure: format name, format version (a newer major version is rejected) and the JSON Schema;
2. meaning: the import options, duplicate keys, then each section's own checks (unknown connector kinds,
   connector configuration, bands, timestamps and every reference, such as
   ``alert_rules[3].area: no area 'pier' in the package or the tenant``);
3. apply: each section applies its objects through the same services the API uses (so validation is the
   same), each object in its own savepoint so that one failure does not hide the next, all inside one
   transaction that is rolled back on a dry run or when anything failed. Nothing is ever half-imported.

The sections themselves (what to check, how to apply) are the domain apps' (:mod:`configpkg.sections`);
this module only runs them in order and keeps the report. Objects are matched by natural key (slug; name
for alert rules): absent -> ``created``, different -> ``changed`` (with the fields), equal ->
``unchanged``. Objects of the tenant that the package does not mention are left alone: an import never
deletes.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import NoReturn

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError as DRFValidationError

from areas.services import error_dict

from .package import NATURAL_KEYS, Problem, check_structure
from .sections import Action, registered_sections

GEOMETRY_MODES = ("keep", "omit")
CREATED, CHANGED, UNCHANGED, SKIPPED = "created", "changed", "unchanged", "skipped"


@dataclass
class ImportReport:
    """What an import did, or would do on a dry run: per object an action, and every problem found."""

    dry_run: bool
    applied: bool = False
    objects: list[dict] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    secrets_required: list[dict] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)

    def add(self, section: str, key: str, path: str, action: Action, *, changes=(), reason: str = "") -> None:
        entry = {"section": section, "key": key, "path": path, "action": action}
        if changes:
            entry["changes"] = list(changes)
        if reason:
            entry["reason"] = reason
        self.objects.append(entry)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((CREATED, CHANGED, UNCHANGED, SKIPPED), 0)
        for entry in self.objects:
            counts[entry["action"]] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "applied": self.applied,
            "counts": self.counts(),
            "objects": self.objects,
            "secrets_required": self.secrets_required,
            "warnings": self.warnings,
            "errors": [e.as_dict() for e in self.errors],
            "provenance": self.provenance,
        }


class ImportRollbackError(Exception):
    """Raised inside the import transaction to undo a dry run or a failed import."""


class _SkipError(Exception):
    """An object is left out on purpose (no geometry, a dependency skipped); not an error."""


def _messages(exc: Exception) -> dict[str, list[str]]:
    errors = error_dict(exc)
    return {
        name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for name, msgs in errors.items()
    }


class PackageImporter:
    """One import: checks, then applies inside the caller's transaction. Not reused.

    It is the :class:`configpkg.sections.ImportContext` that every section's hooks receive.
    """

    def __init__(self, *, tenant, actor, package, report, geometry, geometries, secrets, settings=True):
        self.tenant = tenant
        self.actor = actor
        self.package = package
        self.report = report
        self.geometry_mode = geometry
        self.geometries = geometries or {}
        self.secrets = secrets or {}
        self.include_settings = settings
        self.sections = registered_sections()
        self._by_name = {section.name: section for section in self.sections}
        self.bad_items: set[tuple[str, int]] = set()  # items with structural problems: not checked further
        self.bad_sections: set[str] = set()  # sections with structural problems: not applied
        self.failed: set[tuple[str, str]] = set()  # (section, key) that had errors
        self.state: dict[str, dict] = {}
        self.results: dict[str, dict] = {}
        self.skipped: dict[str, set[str]] = defaultdict(set)

    # --- what the sections use ----------------------------------------------------------------------

    def items(self, section: str) -> list[tuple[int, dict]]:
        values = self.package.get(section) if isinstance(self.package, dict) else None
        if not isinstance(values, list):
            return []
        return [
            (i, item)
            for i, item in enumerate(values)
            if isinstance(item, dict) and (section, i) not in self.bad_items
        ]

    def each(self, section: str):
        """The section's readable items; an item that gains an error while checked is marked failed."""
        key = NATURAL_KEYS[section]
        for index, item in self.items(section):
            before = len(self.report.errors)
            yield index, item
            if len(self.report.errors) > before:
                self.failed.add((section, item[key]))

    def package_keys(self, section: str) -> set[str]:
        key = NATURAL_KEYS[section]
        return {item[key] for _, item in self.items(section)}

    def known_keys(self, section: str) -> set[str]:
        return self.package_keys(section) | self._by_name[section].tenant_keys(self.tenant)

    def guarded(self, section: str, key: str, path: str, write) -> None:
        """Run one object's write in a savepoint; a validation error is recorded with its JSON path."""
        try:
            with transaction.atomic():
                write()
        except _SkipError as skip:
            self.skipped[section].add(key)
            self.report.add(section, key, path, SKIPPED, reason=str(skip))
        except (ValidationError, DRFValidationError) as exc:
            self.failed.add((section, key))
            for name, messages in _messages(exc).items():
                where = path if name in ("__all__", "non_field_errors") else f"{path}.{name}"
                for message in messages:
                    self.report.error(where, message)
        except IntegrityError as exc:
            self.failed.add((section, key))
            self.report.error(path, f"The database refused it: {exc}")

    def skip(self, reason: str) -> NoReturn:
        raise _SkipError(reason)

    # --- pass 1 and 2 -------------------------------------------------------------------------------

    def check(self) -> bool:
        """Passes 1 and 2; False when the package cannot even be read as a package."""
        structure = check_structure(self.package)
        self.report.warnings.extend(structure.warnings)
        self.report.errors.extend(structure.problems)
        if not isinstance(self.package, dict):
            return False
        for problem in structure.problems:
            head = problem.path.split(".")[0]
            self.bad_sections.add(head.split("[")[0])
            if "[" in head:
                section, index = head.rstrip("]").split("[")
                self.bad_items.add((section, int(index)))
        for section in self.sections:
            section.check_options(self)
        self._check_duplicates()
        for section in self.sections:
            section.validate(self)
        return True

    def _check_duplicates(self) -> None:
        for section, key in NATURAL_KEYS.items():
            seen: dict[str, int] = {}
            for index, item in self.items(section):
                value = item[key]
                if value in seen:
                    self.report.error(
                        f"{section}[{index}].{key}",
                        f"Duplicate {key} '{value}' (also {section}[{seen[value]}]); keys must be unique.",
                    )
                    self.failed.add((section, value))
                else:
                    seen[value] = index

    # --- pass 3 -------------------------------------------------------------------------------------

    def apply(self) -> None:
        for section in self.sections:
            section.apply(self)
