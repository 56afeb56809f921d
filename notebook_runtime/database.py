"""Questions a notebook asks of its database, in plain words.

Each wraps a piece of Django's machinery (the migration executor, a connection's
on-commit queue) that a chapter needs to show but should not have to explain.
"""

from django.db import DEFAULT_DB_ALIAS, connections


def unapplied_migrations(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The migrations not yet applied to the database, as "app.name" strings.

    Synchronous: call it through `run_sync` from a cell."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[using])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def has_table(name: str, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the database has a table called `name`. Synchronous."""
    return name in connections[using].introspection.table_names()


def waiting_for_commit(owner=None, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The names of the callbacks that `transaction.on_commit()` has queued in the
    current transaction of this thread, optionally only the methods of `owner`.

    Django keeps that queue in a private list of the connection; reading it is
    only for showing what waits for the commit, never for changing it.
    """
    names = []
    for _savepoints, callback, _robust in connections[using].run_on_commit:
        function = getattr(callback, "func", callback)  # DCRF queues functools.partials
        if owner is None or getattr(function, "__self__", None) is owner:
            names.append(function.__name__)
    return names
