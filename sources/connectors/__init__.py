"""Connector registry. Every module in this package that defines a :class:`Connector` subclass with a
``kind`` registers it by being imported; adding a connector means adding a module, nothing else."""

import importlib
import pkgutil

from .base import Connector

_registry: dict[str, type[Connector]] = {}
_loaded = False


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make a connector available under its ``kind``."""
    if cls.kind in _registry and _registry[cls.kind] is not cls:
        raise ValueError(f"Connector kind '{cls.kind}' is registered twice")
    _registry[cls.kind] = cls
    return cls


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base":
                importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True


def get_connector(kind: str) -> type[Connector]:
    """The connector class for ``kind``; KeyError when unknown."""
    _load()
    return _registry[kind]


def connector_kinds() -> dict[str, type[Connector]]:
    """Every registered connector by kind, sorted."""
    _load()
    return dict(sorted(_registry.items()))
