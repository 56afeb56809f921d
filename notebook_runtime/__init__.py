"""Notebook runtime: lets Jupyter cells drive the tutorial project for real.

    from notebook_runtime import setup_django, start_server, connect, communicate

    setup_django()                         # Django, a fresh SQLite database, migrated
    server = await start_server()          # a real ASGI server on the kernel's loop
    alice = await connect(server, username="alice")
    reply = await alice.request("create", data={"body": "Hello #python"})
    await alice.close()
    await server.stop()                    # or: await cleanup(), which stops everything

Why it works in a notebook: IPython runs each cell's top-level ``await`` on the
kernel's own asyncio event loop, and that loop keeps running between cells. The
server started above is a task on that loop, so the server, the in-memory channel
layer, the consumers and the clients in your cells all share one loop, and the
server keeps serving while you read. No nested event loop is needed, so nothing
here uses nest_asyncio (notebook 01 shows what it would change).

The one thing this arrangement forbids is synchronous ORM code in a cell: the cell
runs on the loop's thread, so Django raises SynchronousOnlyOperation. Setting
DJANGO_ALLOW_ASYNC_UNSAFE silences that check but is a trap: the post is stored,
then the model observer tries to send its live event with async_to_sync, which
cannot run on a thread whose event loop is busy running your cell ("You cannot
use AsyncToSync in the same thread as an async event loop"), so the event is lost.
Write ``await sync_to_async(Post.objects.create)(...)`` instead: the ORM runs in a
worker thread, and the event is sent back on the kernel's loop.
"""

from .cleanup import cleanup
from .clients import ApiSession, SignInRefused, WebSocketClient, connect
from .communicator import ApiCommunicator, communicate
from .database import has_table, unapplied_migrations, waiting_for_commit
from .django_setup import run_sync, setup_django
from .doctor import check_setup
from .http import HttpSession
from .server import LiveServer, application_for, start_server
from .testing import run_pytest

__all__ = [
    "ApiCommunicator",
    "ApiSession",
    "HttpSession",
    "LiveServer",
    "SignInRefused",
    "WebSocketClient",
    "application_for",
    "check_setup",
    "cleanup",
    "communicate",
    "connect",
    "has_table",
    "run_pytest",
    "run_sync",
    "setup_django",
    "start_server",
    "unapplied_migrations",
    "waiting_for_commit",
]
