"""Set Django up inside a Jupyter kernel (or any Python process) in one call."""

import os
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent / "tutorial_project"
SETTINGS_MODULE = "config.settings"


def setup_django(database: str | Path | None = None, *, migrate: bool = True) -> str:
    """Configure Django for the tutorial project; return the database's name.

    With no `database`, the process gets a fresh, empty SQLite database in memory:
    a notebook starts from the same state every run, never touches the database
    `make serve` uses, and leaves nothing behind when its kernel stops, even when
    the kernel is killed. Pass a file path to use that file instead.
    Calling it again in the same process returns the database already in use.
    """
    import django
    from django.apps import apps

    if apps.ready:
        from django.conf import settings

        return str(settings.DATABASES["default"]["NAME"])

    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    if database is None:
        database = _in_memory_database()
    os.environ["SQLITE_PATH"] = str(database)
    django.setup()
    if migrate:
        run_sync(_migrate)
    return str(database)


def run_sync(function, *args, **kwargs):
    """Call a synchronous Django function from a cell, and wait for its result.

    A cell runs on the thread of the kernel's running event loop, where Django
    refuses synchronous database access; a worker thread has no loop, so it may.
    Blocking the loop meanwhile is fine for set-up work that takes milliseconds.

    Not for saves whose live events matter. The model observer sends a save's event
    with async_to_sync; from this thread, which knows no loop, that runs on a
    temporary loop in yet another thread and wakes the kernel's loop from there,
    which asyncio does not allow. The event arrives anyway, because run_sync blocks
    the kernel's loop until it returns; in asyncio's debug mode (python -X dev,
    PYTHONASYNCIODEBUG=1) the save raises RuntimeError after storing the row and
    the subscriber gets no more events. For those saves write
    ``await database_sync_to_async(fn)()`` (channels.db) or sync_to_async: the
    worker thread hands the event back to the kernel's loop, as a consumer does.
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


# Keeps the in-memory database alive: SQLite drops a shared in-memory database
# when its last connection closes, and Django's connections come and go with threads.
_keeper: sqlite3.Connection | None = None


def _in_memory_database() -> str:
    """A shared-cache in-memory SQLite database: every thread of this process sees
    the same data, and it disappears with the process."""
    global _keeper
    name = f"file:workbook-{os.getpid()}?mode=memory&cache=shared"
    _keeper = sqlite3.connect(name, uri=True, check_same_thread=False)
    return name
