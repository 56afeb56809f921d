"""Is this machine ready for the workbook? A checklist, each problem with its fix.

    from notebook_runtime import check_setup
    check_setup()          # in a notebook: the checklist, as notebook 00 shows it

    from notebook_runtime.doctor import check_machine
    check_machine()        # the machine around it: kernel, ports, SQLite, redis-server,
                           # Chromium, jupyter-server-proxy, and whether a hub runs it

    make doctor            # both, from a terminal; exits non-zero if a notebook would fail

Each check returns a Finding; `required` ones must pass for the notebooks to run, the
others are warnings or information.
"""

import argparse
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_PYTHONS = ((3, 11), (3, 13))
# The packages a learner may want to quote when asking for help.
KEY_PACKAGES = (
    "django",
    "channels",
    "daphne",
    "djangochannelsrestframework",
    "djangorestframework",
    "uvicorn",
    "websockets",
)
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


@dataclass
class Finding:
    """One line of the checklist."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def __str__(self) -> str:
        mark = "✔" if self.ok else ("✘" if self.required else "!")
        line = f"{mark} {self.name}: {self.detail}"
        return line if self.ok else f"{line}\n    fix: {self.fix}"


@dataclass
class Report:
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """Everything a notebook needs is there."""
        return all(finding.ok for finding in self.findings if finding.required)

    def __str__(self) -> str:
        return "\n".join(str(finding) for finding in self.findings)

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


def python_version() -> Finding:
    low, high = SUPPORTED_PYTHONS
    running = sys.version_info[:2]
    return Finding(
        "Python",
        low <= running <= high,
        f"{running[0]}.{running[1]} (the workbook supports {low[0]}.{low[1]} to {high[0]}.{high[1]})",
        fix="Install Python 3.11, 3.12 or 3.13, then: make clean && make PYTHON=python3.12 lab",
    )


def pinned_packages(requirements: Path = ROOT / "requirements.txt") -> Finding:
    """Every pin of requirements.txt is the version installed."""
    wrong = []
    pins = 0
    for line in requirements.read_text().splitlines():
        match = PINNED.match(line.strip())
        if not match:
            continue
        pins += 1
        name, wanted = match.groups()
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != wanted:
            wrong.append(f"{name} {installed} (pinned {wanted})")
    return Finding(
        "Pinned packages",
        not wrong,
        f"all {pins} pins of requirements.txt installed"
        if not wrong
        else f"{len(wrong)} of {pins} differ: "
        + ", ".join(wrong[:5])
        + (" ..." if len(wrong) > 5 else ""),
        fix="make install (or: pip install -r requirements.txt in this environment)",
    )


def key_package_versions() -> Finding:
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in KEY_PACKAGES)
    return Finding("Versions", True, versions)


def database() -> Finding:
    """The database Django is set up with has every migration applied."""
    from .database import has_table, unapplied_migrations
    from .django_setup import run_sync

    unapplied = run_sync(unapplied_migrations)
    has_posts = run_sync(has_table, "social_post")
    return Finding(
        "Database",
        not unapplied and has_posts,
        "every migration applied, the Post table exists"
        if not unapplied and has_posts
        else f"unapplied migrations: {', '.join(unapplied) or 'none'}; Post table: {has_posts}",
        fix="setup_django() migrates a notebook's database; for `make serve`: make migrate",
    )


def check_setup() -> Report:
    """The checklist notebook 00 shows: Python, the pins, the database."""
    return Report([python_version(), pinned_packages(), key_package_versions(), database()])


# The machine around the workbook: what `make doctor` checks besides check_setup().

PROJECT_DIR = ROOT / "tutorial_project"
SERVE_PORT = 8000  # `make serve`'s default
# Django 5.2 supports SQLite 3.31 and later.
OLDEST_SQLITE = (3, 31)
# Hosted Jupyter: JupyterHub sets the prefix in every single-user server, Binder
# (a JupyterHub) adds its own variables.
HUB_PREFIX = "JUPYTERHUB_SERVICE_PREFIX"
BINDER_VARIABLES = ("BINDER_LAUNCH_HOST", "BINDER_REPO_URL", "BINDER_REF_URL")
SUBPROCESS_TIMEOUT = 30  # s; a kernel's first import can be slow on a cold disk


def environment() -> Finding:
    """A virtual or conda environment, so installing the pins changes nothing else.

    Only a warning: the pins check says whether the versions are right.
    """
    if sys.prefix != sys.base_prefix:
        kind = "virtual environment"
    elif (Path(sys.prefix) / "conda-meta").is_dir():
        kind = "conda environment"  # Binder's and repo2docker's images are one
    else:
        kind = None
    return Finding(
        "Environment",
        kind is not None,
        f"{kind} {sys.prefix}" if kind else f"the system's Python ({sys.executable})",
        fix="make install creates .venv/ and installs the pins there; then run make lab",
        required=False,
    )


def workbook_package() -> Finding:
    """notebook_runtime installed in editable mode from this checkout: a kernel starts
    in notebooks/, where the package is not on sys.path otherwise."""
    fix = "make install (or: pip install --no-deps -e . from the repository's root)"
    try:
        url = _editable_url(metadata.distribution("realtime-social-workbook"))
    except metadata.PackageNotFoundError:
        return Finding("Workbook package", False, "notebook_runtime is not installed", fix=fix)
    if url != ROOT.as_uri():
        return Finding(
            "Workbook package", False, f"installed from {url or 'a copy'}, not from {ROOT}", fix=fix
        )
    return Finding("Workbook package", True, f"notebook_runtime, editable, from {ROOT}")


def _editable_url(distribution) -> str | None:
    import json

    try:
        direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    except ValueError:
        return None
    return direct_url.get("url") if direct_url.get("dir_info", {}).get("editable") else None


def kernel(name: str = "python3") -> Finding:
    """The kernel JupyterLab starts for the notebooks runs this environment's Python.

    A kernelspec of the same name elsewhere (e.g. ~/.local/share/jupyter/kernels)
    can shadow this environment's, and its Python lacks the pins: every import of
    the first cell would fail.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    fix = (
        f"{sys.executable} -m ipykernel install --sys-prefix --name {name} "
        "(`jupyter kernelspec list` shows which kernelspec is found first)"
    )
    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return Finding("Kernel", False, f"no kernelspec named {name!r}", fix=fix)
    executable = spec.argv[0]
    # jupyter_client starts the Jupyter server's own Python for these names, and
    # make lab's server runs this environment's.
    if executable in {"python", "python3", "python{}.{}".format(*sys.version_info[:2])}:
        executable = sys.executable
    try:
        prefix = subprocess.run(
            [executable, "-c", "import sys, ipykernel; print(sys.prefix)"],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        detail = f"{name} ({spec.resource_dir}) does not start: {_first_line(error)}"
        return Finding("Kernel", False, detail, fix=fix)
    if os.path.realpath(prefix) != os.path.realpath(sys.prefix):
        detail = f"{name} ({spec.resource_dir}) runs {executable}, of {prefix}, not {sys.prefix}"
        return Finding("Kernel", False, detail, fix=fix)
    return Finding("Kernel", True, f"{name} runs {executable}")


def loopback_port() -> Finding:
    """Every server a notebook starts listens on 127.0.0.1 on a port the OS picks."""
    try:
        port = _bind(0)
    except OSError as error:
        return Finding(
            "Loopback ports",
            False,
            f"cannot listen on 127.0.0.1: {error}",
            fix="allow programs to listen on 127.0.0.1 (a firewall or sandbox forbids it)",
        )
    return Finding("Loopback ports", True, f"127.0.0.1 accepts servers (the OS chose port {port})")


def serve_port(port: int = SERVE_PORT) -> Finding:
    """`make serve`'s port is free. A warning only: the notebooks pick free ports."""
    try:
        _bind(port)
    except OSError:
        return Finding(
            f"Port {port}",
            False,
            f"busy: something already listens on 127.0.0.1:{port}, so `make serve` would fail",
            fix=f"stop the other server, or pick another port: make serve PORT={port + 123}",
            required=False,
        )
    return Finding(f"Port {port}", True, "free for make serve")


def _bind(port: int) -> int:
    with socket.socket() as probe:
        # as servers do: a port left in TIME_WAIT by a stopped server counts as free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()
        return probe.getsockname()[1]


def sqlite() -> Finding:
    """The SQLite library Python was built with: new enough for Django, and WAL works
    beside the project's file database, which uses it (network and WSL /mnt drives
    may not support its shared memory)."""
    version = sqlite3.sqlite_version_info
    fix = "install a Python built with SQLite 3.31 or later (python.org, pyenv, conda)"
    if version[:2] < OLDEST_SQLITE:
        detail = f"{sqlite3.sqlite_version}, older than Django 5.2 supports (3.31)"
        return Finding("SQLite", False, detail, fix=fix)
    try:
        mode = _wal_round_trip()
    except (sqlite3.Error, OSError) as error:
        mode = f"error: {error}"
    if mode != "wal":
        detail = f"{sqlite3.sqlite_version}, WAL does not work in {PROJECT_DIR} ({mode})"
        fix = "clone the repository onto a local disk (on WSL: under ~, not /mnt/c)"
        return Finding("SQLite", False, detail, fix=fix)
    return Finding("SQLite", True, f"{sqlite3.sqlite_version}, WAL works")


def _wal_round_trip() -> str:
    """Write in WAL mode and read it back from a second connection, as a server's
    threads do."""
    with tempfile.TemporaryDirectory(dir=PROJECT_DIR, prefix=".wal-check-") as directory:
        path = Path(directory) / "check.sqlite3"
        writer = sqlite3.connect(path)
        try:
            mode = writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            writer.execute("CREATE TABLE t (x)")
            writer.execute("INSERT INTO t VALUES (1)")
            writer.commit()
            reader = sqlite3.connect(path)
            try:
                seen = reader.execute("SELECT x FROM t").fetchone()
            finally:
                reader.close()
        finally:
            writer.close()
    return mode if seen == (1,) else "the second connection saw no row"


def redis_server() -> Finding:
    """The redis-server program notebook 08 (and the scale-out tests) start."""
    from .processes import REDIS_HINT

    executable = shutil.which("redis-server")
    if not executable:
        detail = "not found on PATH (notebook 08 starts one)"
        return Finding("redis-server", False, detail, fix=REDIS_HINT)
    try:
        output = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        detail = f"{executable} does not run: {_first_line(error)}"
        return Finding("redis-server", False, detail, fix=REDIS_HINT)
    version = re.search(r"v=(\S+)", output)
    version = version.group(1) if version else output.strip()
    return Finding("redis-server", True, f"{version} at {executable}")


def chromium() -> Finding:
    """A Chromium that notebook 07 can drive. Launching it is the only real test: a
    browser that is found may still lack its shared libraries (a hub's image)."""
    from .browser import INSTALL_HINT, chromium_path

    # Playwright's sync API refuses a thread with a running event loop (a kernel's).
    with ThreadPoolExecutor(max_workers=1) as executor:
        try:
            version, executable = executor.submit(_launch_chromium).result(timeout=90)
        except Exception as error:  # anything Playwright raises means "cannot drive it"
            where = chromium_path() or "Playwright's own"
            detail = f"{where} does not start: {_first_line(error)}"
            return Finding("Chromium", False, detail, fix=INSTALL_HINT)
    origin = "" if chromium_path() else " (Playwright's own)"
    return Finding("Chromium", True, f"{version} at {executable}{origin}")


def _launch_chromium() -> tuple[str, str]:
    from playwright.sync_api import sync_playwright

    from .browser import FLAGS, chromium_path

    with sync_playwright() as playwright:
        executable = chromium_path() or playwright.chromium.executable_path
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=FLAGS, timeout=30_000
        )
        try:
            return browser.version, executable
        finally:
            browser.close()


def server_proxy() -> Finding:
    """jupyter-server-proxy, installed and enabled in the Jupyter server: on a hub the
    learner's browser reaches a page a cell serves only through it."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    try:
        version = metadata.version("jupyter-server-proxy")
    except metadata.PackageNotFoundError:
        fix = "make install (it is pinned in requirements.txt)"
        return Finding("jupyter-server-proxy", False, "not installed", fix=fix)
    # The configuration files the Jupyter server reads, in its order.
    config = ExtensionConfigManager(read_config_path=jupyter_config_path())
    if not config.enabled("jupyter_server_proxy"):
        detail = f"{version} installed, but disabled in the Jupyter server"
        fix = "jupyter server extension enable --sys-prefix jupyter_server_proxy; restart Jupyter"
        return Finding("jupyter-server-proxy", False, detail, fix=fix)
    detail = f"{version}, enabled as a Jupyter server extension"
    return Finding("jupyter-server-proxy", True, detail)


def hosting() -> Finding:
    """Where the Jupyter server runs; information only, so it always passes."""
    prefix = os.environ.get(HUB_PREFIX)
    binder = next((os.environ[name] for name in BINDER_VARIABLES if os.environ.get(name)), None)
    if prefix:
        where = f"Binder ({binder})" if binder else "a JupyterHub"
        proxy = prefix.rstrip("/") + "/proxy/"
        detail = f"{where}, at {prefix}: pages a cell serves open through its proxy, under {proxy}"
    else:
        detail = "this machine (no hub): pages a cell serves open at http://127.0.0.1:<port>/"
    return Finding("Hosting", True, detail)


def _first_line(error: BaseException) -> str:
    """The line of an error worth showing: a failed program's last words, else the
    message's first line (where Playwright names what is missing)."""
    if isinstance(error, subprocess.CalledProcessError) and (error.stderr or "").strip():
        return error.stderr.strip().splitlines()[-1]
    return (str(error).strip() or type(error).__name__).splitlines()[0]


def check_machine(port: int = SERVE_PORT) -> Report:
    """The machine around the workbook, as `make doctor` shows it after check_setup()."""
    return Report(
        [
            environment(),
            workbook_package(),
            kernel(),
            loopback_port(),
            serve_port(port),
            sqlite(),
            redis_server(),
            chromium(),
            server_proxy(),
            hosting(),
        ]
    )


def main(argv=None) -> int:
    """`make doctor`: the set-up checklist and the machine's, on a fresh in-memory
    database (so it needs no migrated file database), and an exit status for scripts."""
    parser = argparse.ArgumentParser(
        prog="python -m notebook_runtime.doctor", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--port", type=int, default=SERVE_PORT, help="make serve's port (default %(default)s)"
    )
    options = parser.parse_args(argv)

    from .django_setup import setup_django

    setup_django()
    report = Report(check_setup().findings + check_machine(options.port).findings)
    print(report)
    print()
    print(_summary(report))
    return 0 if report.ok else 1


def _summary(report: Report) -> str:
    failed = [finding for finding in report.findings if not finding.ok]
    problems = [finding.name for finding in failed if finding.required]
    warnings = [finding.name for finding in failed if not finding.required]
    if problems:
        return f"Not ready: fix {', '.join(problems)} (see the fixes above)."
    return "Ready: every notebook has what it needs" + (
        f"; warnings: {', '.join(warnings)}." if warnings else "."
    )


if __name__ == "__main__":
    sys.exit(main())
