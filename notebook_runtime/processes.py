"""Separate processes for the scale-out chapter and its tests: a real redis-server,
and tutorial_project server processes (`manage.py runserver`, i.e. daphne).

Everything listens on 127.0.0.1 on a free port, waits (bounded) until it accepts
connections, and is stopped by `.stop()` or by leaving a `with` block.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .django_setup import PROJECT_DIR

HOST = "127.0.0.1"
REDIS_HINT = (
    "redis-server was not found on PATH. Install it: `sudo apt install redis-server` "
    "(Debian/Ubuntu), `brew install redis` (macOS), or `conda install -c conda-forge redis-server`."
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Return once `port` accepts connections; raise if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with code {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {HOST}:{port} within {timeout} s")


class ServerProcess:
    """A child process listening on `port`; stopping it waits for it to exit."""

    def __init__(self, command: list[str], port: int, env: dict | None = None, cwd=None):
        self.port = port
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT, text=True
        )
        try:
            wait_until_listening(port, self.process)
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

    def __init__(self, executable: str | None = None):
        executable = executable or shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError(REDIS_HINT)
        port = free_port()
        super().__init__(
            [executable, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
            port,
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
        port = free_port()
        super().__init__(
            [*manage_command(), "runserver", f"{HOST}:{port}", "--noreload"],
            port,
            env=project_environment(**environ),
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __repr__(self):
        return f"<ProjectServer {self.url}>"


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
