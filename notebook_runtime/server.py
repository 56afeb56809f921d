"""A real ASGI server that runs on the event loop you are already in.

`manage.py runserver` (daphne) owns its process and its event loop (Twisted's), so
a notebook could only run it as a separate process, where the in-memory channel
layer and the database objects of your cells are out of reach. uvicorn's Server is
an ordinary coroutine, so it can run as a task on the kernel's loop, beside your
cells: the same ASGI application, served over real TCP on 127.0.0.1.
"""

import asyncio
import contextlib
import html
import logging
import socket
import sys
from collections import deque

import uvicorn

from . import hosting

HOST = hosting.HOST
ERRORS_KEPT = 10  # how many of its latest errors a LiveServer keeps in `errors`
# The loggers that the server's tasks log the application's errors to.
SERVER_ERROR_LOGGERS = ("uvicorn.error", "djangochannelsrestframework")

# Servers still running, so that cleanup() can stop what a notebook left running.
running_servers: "set[LiveServer]" = set()


class _LoopServer(uvicorn.Server):
    """uvicorn's Server, minus what only suits a server that owns its process."""

    def __init__(self, config):
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self):
        # uvicorn would take over Ctrl+C for as long as it serves. In a kernel,
        # "interrupt" must keep interrupting the cell, not stop the server.
        yield


class _ErrorLog(logging.Handler):
    """Keeps the errors the server's tasks log, tracebacks included, until a cell
    reports them.

    uvicorn logs an exception raised by the application ("Exception in ASGI
    application"), and DCRF an exception raised by an action, from the task
    serving that connection. ipykernel sends a task's output to the cell that
    created it, so a line printed here would appear under the cell that started the
    server, long after it ran. Nothing is printed here: the cell whose action
    caused the error reports it (see `LiveServer.report_errors`).
    """

    def __init__(self, where: str):
        super().__init__(level=logging.ERROR)
        self.where = where
        self.texts: deque[str] = deque(maxlen=ERRORS_KEPT)
        self.unreported: deque[logging.LogRecord] = deque(maxlen=ERRORS_KEPT)

    def emit(self, record):
        try:
            self.texts.append(self.format(record))
            self.unreported.append(record)
        except Exception:
            self.handleError(record)


def application_for(consumer):
    """The project's ASGI application with `consumer` at /ws/ in place of
    LivePostConsumer: the same stack as config/asgi.py, so a consumer written in a
    notebook is served exactly as the finished one is."""
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.core.asgi import get_asgi_application
    from django.urls import re_path

    from social.auth import TokenAuthMiddlewareStack

    return ProtocolTypeRouter(
        {
            "http": get_asgi_application(),
            "websocket": AllowedHostsOriginValidator(
                TokenAuthMiddlewareStack(URLRouter([re_path(r"^ws/$", consumer.as_asgi())]))
            ),
        }
    )


class LiveServer:
    """One ASGI server on a free loopback port, started and stopped from async code.

    Serves `app`, or the project's application with `consumer` at /ws/, or by
    default the finished project (config.asgi).
    """

    def __init__(
        self,
        app=None,
        *,
        consumer=None,
        port: int = 0,
        startup_timeout: float = 10,
        shutdown_timeout: float = 10,
    ):
        if app is not None and consumer is not None:
            raise TypeError("Pass an ASGI app or a consumer, not both.")
        self.app = application_for(consumer) if consumer is not None else app
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.requested_port = port
        self.port: int | None = None
        self._server: _LoopServer | None = None
        self._task: asyncio.Task | None = None
        self._error_log: _ErrorLog | None = None

    @property
    def url(self) -> str:
        """The HTTP base URL, e.g. http://127.0.0.1:54321"""
        return f"http://{HOST}:{self._require_port()}"

    @property
    def browser_url(self) -> str:
        """The URL a learner's browser opens for this server: this one, or behind
        JupyterHub or Binder the Jupyter server's proxy path (see hosting.py)."""
        return hosting.browser_url(self._require_port())

    def link(self, path: str = "", text: str | None = None) -> "Link":
        """A link to `path` on this server that opens in a new browser tab, as the
        learner's browser must reach it (see `browser_url`)."""
        return Link(hosting.browser_url(self._require_port(), path), text)

    @property
    def ws_url(self) -> str:
        """The URL of the live post API, e.g. ws://127.0.0.1:54321/ws/"""
        return f"ws://{HOST}:{self._require_port()}/ws/"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def errors(self) -> list[str]:
        """The latest errors (at most ERRORS_KEPT) that the application raised
        while this server ran, oldest first, each with its traceback:
        `print(server.errors[-1])`. The loggers are shared by the process, so with
        two servers running each lists the errors of both."""
        return list(self._error_log.texts) if self._error_log else []

    def report_errors(self) -> int:
        """Print one line on stderr for each error logged since the last report,
        and return how many.

        Called from the cell that is running, so the line appears under it: by a
        client that sees its connection drop, by `stop()`, and in IPython at the
        end of every cell (see `_report_at_the_end_of_each_cell`).
        """
        reported = 0
        while self._error_log is not None and self._error_log.unreported:
            record = self._error_log.unreported.popleft()
            if getattr(record, "reported_by_notebook_runtime", False):
                continue  # another running server saw the same record
            record.reported_by_notebook_runtime = True
            summary = record.getMessage().strip()
            print(
                f"[{self._error_log.where}] {summary} (traceback in server.errors)", file=sys.stderr
            )
            reported += 1
        return reported

    async def start(self) -> "LiveServer":
        if self.running:
            raise RuntimeError(f"The server is already running at {self.url}.")
        app = self.app
        if app is None:
            from config.asgi import application as app
        app = _with_static_files(app)
        # Bind ourselves: with port 0 the OS picks a free port, and nothing can take
        # it between choosing and listening. SO_REUSEADDR lets a server restart on
        # the port it had a moment ago (clients reconnecting to the same URL).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.requested_port))
        self.port = listener.getsockname()[1]
        # Requests through the Jupyter server's proxy, under this server's own path.
        app = _behind_the_jupyter_proxy(app, self.port)
        config = uvicorn.Config(
            app,
            lifespan="off",  # Channels' ProtocolTypeRouter has no lifespan handler
            ws="websockets-sansio",
            # No logging configuration of uvicorn's own (by default it installs its
            # handlers and formats on the kernel's loggers at every start); errors
            # go to self.errors instead, see _ErrorLog.
            log_config=None,
            log_level="warning",  # quiet: a log line would land in some later cell
            access_log=False,
            timeout_graceful_shutdown=self.shutdown_timeout,
        )
        self._error_log = _ErrorLog(f"LiveServer {HOST}:{self.port}")
        for name in SERVER_ERROR_LOGGERS:
            logging.getLogger(name).addHandler(self._error_log)
        _report_at_the_end_of_each_cell()
        self._server = _LoopServer(config)
        self._task = asyncio.create_task(
            self._server.serve(sockets=[listener]), name=f"LiveServer {HOST}:{self.port}"
        )
        ready = asyncio.create_task(self._server.ready.wait())
        await asyncio.wait(
            {ready, self._task},
            timeout=self.startup_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not ready.done():
            ready.cancel()
            listener.close()
            await self._stop_task()
            raise RuntimeError("The server did not start; see the error above.")
        running_servers.add(self)
        return self

    async def stop(self) -> None:
        """Close every connection, stop listening and wait until all is done."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._stop_task()
        self.report_errors()

    async def _stop_task(self):
        running_servers.discard(self)
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(task, timeout=self.shutdown_timeout + 5)
        except (asyncio.CancelledError, SystemExit):
            pass
        finally:
            # What it logged until now stays in self.errors; nothing more is added.
            for name in SERVER_ERROR_LOGGERS:
                logging.getLogger(name).removeHandler(self._error_log)

    def _require_port(self) -> int:
        if self.port is None:
            raise RuntimeError("The server has not been started: await server.start().")
        return self.port

    async def __aenter__(self) -> "LiveServer":
        # Both `async with LiveServer()` and `async with await start_server()` work.
        return self if self.running else await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    def __repr__(self):
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<LiveServer {state}>"


class Link:
    """A URL shown as a link that opens in a new tab (a plain URL outside Jupyter)."""

    def __init__(self, url: str, text: str | None = None):
        self.url = url
        self.text = text or url

    def _repr_html_(self):
        url, text = html.escape(self.url), html.escape(self.text)
        return f'<a href="{url}" target="_blank" rel="noopener">{text}</a>'

    def __repr__(self):
        return self.url

    def __str__(self):
        return self.url


def _behind_the_jupyter_proxy(app, port):
    """Serve requests that jupyter-server-proxy forwards to `port` as if mounted at
    its path; on a hub, accept the hub's host for them (config/proxy.py)."""
    from config.proxy import PathPrefixProxyMiddleware

    return PathPrefixProxyMiddleware(
        app,
        [hosting.proxy_prefix(port)],
        trust_host=hosting.behind_a_proxy(),
        drop_authorization=True,  # the Jupyter server's token, not a sign-in here
    )


def report_server_errors() -> int:
    """Report the new errors of every running server under the cell running now."""
    return sum(server.report_errors() for server in list(running_servers))


def _report_after_cell(result=None):
    report_server_errors()


def _report_at_the_end_of_each_cell():
    """In IPython, report an error no client saw (a browser's connection, say)
    under the cell during which it happened, when that cell ends."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and _report_after_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", _report_after_cell)


def _with_static_files(app):
    """Serve static files in development, as runserver does (under the proxy's
    path prefix too)."""
    from django.conf import settings

    from config.proxy import PrefixedStaticFilesHandler

    return PrefixedStaticFilesHandler(app) if settings.DEBUG else app


async def start_server(app=None, *, consumer=None, port: int = 0) -> LiveServer:
    """Start a LiveServer and return it; `await server.stop()` when done.
    `port` 0 (the default) picks a free one.

    When the application raises, uvicorn drops that connection and logs the error
    from the server's own task. The cell whose client sees the connection drop
    prints one line on stderr for it (or, if no client of yours saw it, the cell
    during which it happened, when it ends); the traceback is kept:
    `print(server.errors[-1])` in any cell.
    """
    return await LiveServer(app, consumer=consumer, port=port).start()
