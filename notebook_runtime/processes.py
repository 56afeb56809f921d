"""Separate processes for the scale-out chapter and its tests: a real redis-server,
tutorial_project server processes (`manage.py runserver`, i.e. daphne, for
development; `DeployedServer`, uvicorn with DEBUG off, as the README deploys it),
and signed-in sessions for them.

Everything listens on 127.0.0.1 on a free port, waits (bounded) until it accepts
connections, and is stopped by `.stop()` or by leaving a `with` block.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from .django_setup import PROJECT_DIR

HOST = "127.0.0.1"
REDIS_HINT = (
    "redis-server was not found on PATH. Install it: `sudo apt install redis-server` "
    "(Debian/Ubuntu), `brew install redis` (macOS), or `conda install -c conda-forge redis-server`."
)


def free_port() -> int:
    """A loopback port nothing listens on at this instant. Another process may take it
    before a child binds it: ServerProcess notices, and starts again on another."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class PortTaken(RuntimeError):
    """The child could not bind its port: another process took it first."""


# What the servers started here print when their port is taken (uvicorn, redis-server,
# runserver, daphne), lower-cased.
PORT_TAKEN_MESSAGES = ("address already in use", "port is already in use", "couldn't listen on")


def listens_on(process: subprocess.Popen, port: int) -> bool:
    """Whether `process` itself holds a listening socket on `port`: a connection that
    succeeds proves only that someone listens there."""
    try:
        connections = psutil.Process(process.pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Return once `process` listens on `port`; raise if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with code {process.returncode}")
        if listens_on(process, port):
            return
        time.sleep(0.05)  # polling a bounded deadline
    raise TimeoutError(f"{process.args[0]} did not listen on {HOST}:{port} within {timeout} s")


class ServerProcess:
    """A child process listening on a loopback port; stopping it waits for it to exit.

    `command_for(port)` is its command line. With no `port` it gets a free one, and
    if another process takes that port before the child binds it (tests run side by
    side), it starts again on another, at most START_ATTEMPTS times.
    """

    START_ATTEMPTS = 3

    def __init__(self, command_for, *, port: int | None = None, env: dict | None = None, cwd=None):
        for attempt in range(1, self.START_ATTEMPTS + 1):
            self.port = port or free_port()
            self.log = tempfile.TemporaryFile(mode="w+")
            self.process = subprocess.Popen(
                command_for(self.port),
                env=env,
                cwd=cwd,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                wait_until_listening(self.port, self.process)
                return
            except RuntimeError:
                output = self.output().lower()
                self.stop()
                taken = any(message in output for message in PORT_TAKEN_MESSAGES)
                if not taken:
                    raise
                if port is not None or attempt == self.START_ATTEMPTS:
                    raise PortTaken(
                        f"{HOST}:{self.port} is taken: {output.strip()[-300:]}"
                    ) from None
            except Exception:
                self.stop()
                raise

    def output(self) -> str:
        """What the process has printed so far (for diagnosing a failure)."""
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


class RedisServer(ServerProcess):
    """redis-server on a free loopback port, in memory only (no dump file)."""

    def __init__(self, executable: str | None = None, port: int | None = None):
        """`port`: the port of a RedisServer stopped earlier, to restart it (empty)."""
        executable = executable or shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError(REDIS_HINT)
        super().__init__(
            lambda port: (
                [executable, "--port", str(port), "--bind", HOST]
                + ["--save", "", "--appendonly", "no"]
            ),
            port=port,
        )

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def __repr__(self):
        return f"<RedisServer {self.url}>"


class ProjectServer(ServerProcess):
    """tutorial_project served by `manage.py runserver` in its own process.

    `environ` adds to this process's environment: REDIS_URL, SQLITE_PATH or
    DATABASE_URL decide which channel layer and database the server uses.
    """

    def __init__(self, **environ: str):
        super().__init__(
            lambda port: [*manage_command(), "runserver", f"{HOST}:{port}", "--noreload"],
            env=project_environment(**environ),
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __repr__(self):
        return f"<ProjectServer {self.url}>"


class DeployedServer(ServerProcess):
    """tutorial_project as the README deploys it: uvicorn, DEBUG off, a secret key
    of its own (`deployed_environment`), in its own process.

    Served over plain HTTP on loopback, so without the redirect to HTTPS that a
    deployment behind a TLS proxy keeps on. The development sign-in does not
    exist; users sign in with a password (/accounts/login/), and a test or a
    benchmark signs clients in with `session_cookie`, which needs none.
    """

    def __init__(self, **environ: str):
        super().__init__(
            lambda port: [*uvicorn_command(port), "config.asgi:application"],
            env=project_environment(**deployed_environment(**environ)),
            cwd=PROJECT_DIR,
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __repr__(self):
        return f"<DeployedServer {self.url}>"


def uvicorn_command(port: int) -> list[str]:
    """The README's production command, without the application's name."""
    # fmt: off
    return [
        sys.executable, "-m", "uvicorn", "--host", HOST, "--port", str(port),
        "--ws", "websockets-sansio", "--ws-per-message-deflate", "false",
        "--lifespan", "off", "--log-level", "warning",
    ]
    # fmt: on


# One key for every deployed process this Python process starts, so that they
# (and `session_cookie`) accept each other's sessions.
DEPLOYED_SECRET_KEY = secrets.token_urlsafe(50)


def deployed_environment(**environ: str) -> dict:
    """The production profile's variables for a server on loopback, plus `environ`."""
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": DEPLOYED_SECRET_KEY,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        **environ,
    }


SESSION_FOR_USER = (
    "import os;"
    "from django.conf import settings;"
    "from django.contrib.auth import get_user_model;"
    "from django.test import Client;"
    "user, _ = get_user_model().objects.get_or_create(username=os.environ['SESSION_USERNAME']);"
    "client = Client(); client.force_login(user);"
    "print(client.cookies[settings.SESSION_COOKIE_NAME].value)"
)


def session_cookie(username: str, **environ: str) -> str:
    """A Cookie header value signing `username` in (created if new), for a server
    whose development sign-in is off: Django's test client's force_login(), run
    against the database that `environ` (SQLITE_PATH or DATABASE_URL) names, with
    the deployed servers' key (`deployed_environment`) signing the session."""
    environ = deployed_environment(SESSION_USERNAME=username, **environ)
    key = manage("shell", "-c", SESSION_FOR_USER, **environ).split()[-1]
    return f"sessionid={key}"


def manage_command() -> list[str]:
    return [sys.executable, str(PROJECT_DIR / "manage.py")]


def project_environment(**environ: str) -> dict:
    """This process's environment for a project process, minus the notebook's own
    database and layer settings, plus `environ`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SQLITE_PATH", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(environ, PYTHONUNBUFFERED="1")
    return env


def manage(*args: str, timeout: float = 60, **environ: str) -> str:
    """Run `manage.py <args>` in a new process; return its output, raise if it fails."""
    result = subprocess.run(
        [*manage_command(), *args],
        env=project_environment(**environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def shared_sqlite_database(directory: str | Path) -> str:
    """Create and migrate an SQLite file that several processes can share."""
    path = str(Path(directory) / "shared.sqlite3")
    manage("migrate", "--noinput", SQLITE_PATH=path)
    return path
