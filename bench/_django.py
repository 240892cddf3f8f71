"""Shared set-up for benchmarks: Django on a throw-away database next to the configured one."""

import os
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


@contextmanager
def scratch_database():
    """Create, migrate and finally drop a database test_<name>; yields its name."""
    old_name = connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        print("This benchmark measures PostgreSQL: set DATABASE_URL=postgres://... (see README).")
        sys.exit(2)
