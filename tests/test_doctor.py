"""The set-up checklist (notebook 00), `make doctor`'s machine checks, and the
database questions notebooks ask."""

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction

from notebook_runtime import check_setup, unapplied_migrations, waiting_for_commit
from notebook_runtime.doctor import (
    check_machine,
    hosting,
    kernel,
    pinned_packages,
    serve_port,
    sqlite,
)
from notebook_runtime.processes import REDIS_HINT
from social.consumers import LivePostConsumer
from social.models import Post


@pytest.mark.django_db
def test_the_checklist_passes_on_a_machine_set_up_by_make():
    report = check_setup()
    assert report.ok, str(report)
    assert [finding.name for finding in report.findings] == [
        "Python",
        "Pinned packages",
        "Versions",
        "Database",
    ]
    assert str(report).startswith("✔ Python: ")


def test_a_pin_that_differs_is_named_with_its_fix(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("django==1.0\n    # via -r requirements.in\nnot-installed-pkg==2.0\n")
    finding = pinned_packages(requirements)
    assert not finding.ok
    assert "2 of 2 differ" in finding.detail
    assert "django 5.2" in finding.detail and "(pinned 1.0)" in finding.detail
    assert "not-installed-pkg missing (pinned 2.0)" in finding.detail
    assert "fix: make install" in str(finding)


@pytest.mark.django_db
def test_the_database_has_no_unapplied_migration():
    assert unapplied_migrations() == []


@pytest.mark.django_db(transaction=True)
def test_waiting_for_commit_lists_the_observers_callbacks_until_the_commit(django_user_model):
    observer = LivePostConsumer.post_change_handler
    author = django_user_model.objects.create_user("alice")
    with transaction.atomic():
        Post.objects.create(author=author, body="queued #python")
        waiting = waiting_for_commit(observer)
    assert "send_prepared_messages" in waiting
    assert waiting_for_commit(observer) == []


# The machine checks of `make doctor`, against this machine's real programs.

ROOT = Path(__file__).resolve().parent.parent
DOCTOR = [sys.executable, "-W", "ignore::RuntimeWarning:runpy", "-m", "notebook_runtime.doctor"]
DOCTOR_TIMEOUT = 120  # s; it takes about 3
CHECKS = [
    "Python",
    "Pinned packages",
    "Versions",
    "Database",
    "Environment",
    "Workbook package",
    "Kernel",
    "Loopback ports",
    "Port 8000",
    "SQLite",
    "redis-server",
    "Chromium",
    "jupyter-server-proxy",
    "Hosting",
]


def doctor(command=DOCTOR, env=None):
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=DOCTOR_TIMEOUT
    )


def checked(output: str) -> dict[str, str]:
    """Each check's name and mark: ✔ passed, ✘ failed, ! warning."""
    lines = re.findall(r"^([✔✘!]) ([^:]+):", output, re.MULTILINE)
    return {name: mark for mark, name in lines}


def test_make_doctor_passes_on_this_machine_and_prints_every_check():
    result = doctor(["make", "--no-print-directory", "doctor"])
    assert result.returncode == 0, result.stdout + result.stderr
    marks = checked(result.stdout)
    assert list(marks) == CHECKS
    # 8000 may be busy here (another server): then it is the only warning
    assert {name for name, mark in marks.items() if mark != "✔"} <= {"Port 8000"}, result.stdout
    assert "Ready: every notebook has what it needs" in result.stdout
    assert "RuntimeWarning" not in result.stderr


def path_without(tmp_path, program: str) -> str:
    """A PATH with every program of this one but `program`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name != program and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    return str(bin_dir)


def test_a_missing_redis_server_fails_the_doctor_with_its_fix(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip(REDIS_HINT)
    env = {**os.environ, "PATH": path_without(tmp_path, "redis-server")}
    result = doctor(env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    marks = checked(result.stdout)
    assert marks["redis-server"] == "✘"
    assert [name for name, mark in marks.items() if mark == "✘"] == ["redis-server"], result.stdout
    assert (
        "✘ redis-server: not found on PATH (notebook 08 starts one)\n    fix: " + REDIS_HINT
        in result.stdout
    )
    assert "Not ready: fix redis-server" in result.stdout


@contextlib.contextmanager
def listening(port: int):
    """Hold `port` on 127.0.0.1, as a running `make serve` would; if something else
    holds it already, it is just as busy."""
    with socket.socket() as server:
        try:
            server.bind(("127.0.0.1", port))
            server.listen()
        except OSError:
            pass
        yield


def test_a_busy_port_8000_is_a_warning_and_not_a_failure():
    with listening(8000):
        finding = serve_port(8000)
        result = doctor()
    assert not finding.ok and not finding.required
    assert str(finding).startswith("! Port 8000: busy")
    assert "fix: stop the other server, or pick another port: make serve PORT=8123" in str(finding)
    assert result.returncode == 0, result.stdout + result.stderr
    assert checked(result.stdout)["Port 8000"] == "!"
    assert "Ready: every notebook has what it needs; warnings: Port 8000." in result.stdout


def test_a_kernelspec_that_runs_another_python_is_named_with_its_fix(tmp_path, monkeypatch):
    """A `python3` kernelspec found before this environment's (JUPYTER_PATH comes
    first), running the base interpreter, which has not got this venv's pins."""
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    other = os.path.join(sys.base_prefix, "bin", "python3")
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": [other, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    if os.path.realpath(sys.base_prefix) == os.path.realpath(sys.prefix):
        pytest.skip("the suite runs outside a virtual environment")
    finding = kernel()
    assert not finding.ok and finding.required
    assert str(spec) in finding.detail
    assert "-m ipykernel install --sys-prefix --name python3" in finding.fix
    assert kernel.__name__ == "kernel"


def test_the_kernel_jupyterlab_starts_runs_this_environment():
    finding = kernel()
    assert finding.ok, str(finding)


def test_sqlite_runs_wal_beside_the_projects_database():
    finding = sqlite()
    assert finding.ok, str(finding)
    assert not list((ROOT / "tutorial_project").glob(".wal-check-*")), "the check left its files"


def test_hosting_names_the_hub_and_its_proxy(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/learner/")
    monkeypatch.setenv("BINDER_LAUNCH_HOST", "https://mybinder.org/")
    finding = hosting()
    assert finding.ok and finding.name == "Hosting"
    assert finding.detail.startswith("Binder (https://mybinder.org/), at /user/learner/")
    assert "under /user/learner/proxy/" in finding.detail
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    assert "no hub" in hosting().detail


def test_the_machine_checks_leave_check_setup_as_notebook_00_shows_it():
    assert [finding.name for finding in check_machine().findings] == CHECKS[4:]
