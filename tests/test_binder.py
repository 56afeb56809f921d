"""The repo2docker configuration (binder/) builds a working workbook.

What repo2docker does to build an image, minus Docker: a fresh clone (so only
committed files count), a fresh Python environment, `pip install -r
binder/requirements.txt` from the clone's root, then binder/postBuild there, twice
(it must be idempotent). Then binder/start runs commands as the container would run
the Jupyter server, and they find Django, the migrated database and
jupyter-server-proxy. apt.txt is not installed here: this machine's redis-server and
Chromium stand in for it, and postBuild, finding a Chromium that runs, skips
Playwright's download. Takes about a minute, most of it pip.
"""

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIP_TIMEOUT = 300  # s; pins from a warm wheel cache install in about 40 s
STEP_TIMEOUT = 120
# Variables of the environment running the suite that must not leak into the build.
NOT_INHERITED = (
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "DJANGO_SETTINGS_MODULE",
    "CONDA_PREFIX",
)


def run(command, **options):
    """Run a step, failing the test with its output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, **options)
    assert result.returncode == 0, (
        f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """A clone built as repo2docker builds it; yields (clone, environment, env vars)."""
    work = tmp_path_factory.mktemp("binder")
    clone, prefix = work / "workbook", work / "env"
    run(["git", "clone", "--quiet", str(ROOT), str(clone)], timeout=STEP_TIMEOUT)
    assert (clone / "binder" / "postBuild").exists(), "binder/ is not committed"
    # The base interpreter, not this suite's venv, as a fresh environment has.
    run([sys.executable, "-m", "venv", str(prefix)], timeout=STEP_TIMEOUT)
    env = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env['PATH']}"
    run(
        [
            "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            "binder/requirements.txt",
        ],
        cwd=clone,
        env=env,
        timeout=PIP_TIMEOUT,
    )
    return clone, prefix, env


@pytest.fixture(scope="module")
def built(image):
    clone, prefix, env = image
    first = run(["binder/postBuild"], cwd=clone, env=env, timeout=STEP_TIMEOUT)
    again = run(["binder/postBuild"], cwd=clone, env=env, timeout=STEP_TIMEOUT)
    return clone, prefix, env, first.stdout, again.stdout


def start(built, *command, cwd=None):
    """Run `command` the way the container runs the Jupyter server: through binder/start."""
    clone, _, env, *_ = built
    return subprocess.Popen(
        [str(clone / "binder" / "start"), *command],
        cwd=cwd or clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, stdout, stderr


def test_post_build_ends_with_a_passing_doctor_and_can_run_again(built):
    *_, first, again = built
    for output in (first, again):
        assert "Ready: every notebook has what it needs" in output, output
        assert re.search(r"^✔ Database: every migration applied", output, re.MULTILINE), output


def test_start_execs_the_command_in_its_own_place(built):
    """The command becomes the process repo2docker started (so it gets the hub's
    signals), and its output and exit status come back unchanged."""
    script = "import json, os, sys; print(json.dumps([os.getpid(), os.getppid(), sys.prefix])); sys.exit(7)"
    process = start(built, "python", "-c", script)
    status, stdout, stderr = finish(process)
    assert status == 7, stderr
    pid, parent, prefix = json.loads(stdout)
    assert pid == process.pid, "start ran the command in a child process instead of exec-ing it"
    assert parent == os.getpid()
    assert Path(prefix) == built[1], "start found another Python than the environment's"


def test_the_environment_runs_the_project(built):
    clone, *_ = built
    for command in (
        ["python", "tutorial_project/manage.py", "check", "--fail-level", "WARNING"],
        [
            "python",
            "tutorial_project/manage.py",
            "migrate",
            "--check",
        ],  # non-zero if one is unapplied
    ):
        status, stdout, stderr = finish(start(built, *command))
        assert status == 0, f"{command}: {stdout}{stderr}"
    tables = (
        "import sqlite3; print(sqlite3.connect('tutorial_project/db.sqlite3').execute("
        "\"SELECT name FROM sqlite_master WHERE name = 'social_post'\").fetchall())"
    )
    status, stdout, stderr = finish(start(built, "python", "-c", tables))
    assert (status, stdout.strip()) == (0, "[('social_post',)]"), stderr


def test_a_kernel_started_in_notebooks_imports_the_clones_runtime(built):
    clone, *_ = built
    script = "import django, notebook_runtime; print(django.__version__, notebook_runtime.__file__)"
    status, stdout, stderr = finish(start(built, "python", "-c", script, cwd=clone / "notebooks"))
    assert status == 0, stderr
    version, path = stdout.split()
    assert version == metadata.version("django")
    assert Path(path).is_relative_to(clone)


def test_jupyter_server_proxy_is_an_enabled_server_extension(built):
    status, stdout, stderr = finish(start(built, "jupyter", "server", "extension", "list"))
    assert status == 0, stderr
    listing = re.sub(r"\x1b\[[0-9;]*m", "", stdout + stderr)  # it colours "enabled"
    assert re.search(r"jupyter_server_proxy enabled", listing), listing
    assert re.search(r"jupyter_server_proxy 4\.\S+ OK", listing), listing


def test_the_build_left_this_suites_environment_alone(built):
    clone, *_ = built
    direct_url = json.loads(
        metadata.distribution("realtime-social-workbook").read_text("direct_url.json")
    )
    assert direct_url["url"] != clone.as_uri()
