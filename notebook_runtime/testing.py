"""Run pytest on tests written in a notebook cell, and show what it printed.

pytest-asyncio runs each test on an event loop of its own, which it cannot start
inside a kernel whose loop is already running; and pytest-django builds its own
test database. So the tests run in a separate process, as `pytest` would in a
terminal, with the tutorial project on its path.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .django_setup import PROJECT_DIR, SETTINGS_MODULE

PYTEST_CONFIG = """\
[pytest]
DJANGO_SETTINGS_MODULE = {settings}
pythonpath = {project}
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
django_debug_mode = keep
"""


def run_pytest(source: str, *args: str, timeout: float = 120) -> int:
    """Write `source` to a test module in a temporary directory, run pytest on it,
    print the report and return pytest's exit code (0: everything passed)."""
    with tempfile.TemporaryDirectory(prefix="notebook-tests-") as directory:
        directory = Path(directory)
        (directory / "pytest.ini").write_text(
            PYTEST_CONFIG.format(settings=SETTINGS_MODULE, project=PROJECT_DIR)
        )
        (directory / "test_notebook.py").write_text(source)
        # The same tests and the same report everywhere: the project's own
        # development database and channel layer (not a DATABASE_URL or REDIS_URL
        # set on this machine), no PYTEST_ADDOPTS options, 80 columns, and no CI
        # variables (on CI pytest stops shortening its summary lines).
        hidden = {
            "SQLITE_PATH",
            "DATABASE_URL",
            "REDIS_URL",
            "PYTEST_ADDOPTS",
            "CI",
            "BUILD_NUMBER",
        }
        env = {k: v for k, v in os.environ.items() if k not in hidden}
        env["COLUMNS"] = "80"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "--no-header",
                "--color=no",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:nbval",
                *args,
            ],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    print((result.stdout + result.stderr).strip())
    return result.returncode
