"""Set Django up inside a Jupyter kernel (or any Python process) in one call."""
import atexit
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent / "tutorial_project"
SETTINGS_MODULE = "config.settings"


def setup_django(database: str | Path | None = None, *, migrate: bool = True) -> Path:
    """Configure Django for the tutorial project and return the database path.

    With no `database`, each process gets a fresh, empty SQLite file that is removed
    when the process ends: a notebook starts from the same state every run, and
    never touches the database `make serve` uses. Pass a path to use that file.
    Calling it again in the same process returns the database already in use.
    """
    import django
    from django.apps import apps

    if apps.ready:
        from django.conf import settings

        return Path(settings.DATABASES["default"]["NAME"])

    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    if database is None:
        database = _temporary_database()
    os.environ["SQLITE_PATH"] = str(database)
    django.setup()
    if migrate:
        run_sync(_migrate)
    return Path(database)


def run_sync(function, *args, **kwargs):
    """Call a synchronous Django function from a cell, and wait for its result.

    A cell runs on the thread of the kernel's running event loop, where Django
    refuses synchronous database access; a worker thread has no loop, so it may.
    Blocking the loop meanwhile is fine for set-up work that takes milliseconds.
    """
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(_closing_connections, function, *args, **kwargs).result()


def _closing_connections(function, *args, **kwargs):
    from django.db import connections

    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()  # the thread ends; its SQLite connection must not leak


def _migrate():
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _temporary_database() -> Path:
    directory = tempfile.mkdtemp(prefix="workbook-db-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return Path(directory) / "db.sqlite3"
