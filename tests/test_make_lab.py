"""`make lab` serves the whole workbook: notebooks, exercises, solutions, README."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "workbook-test-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` as a learner runs it, minus the browser, on a free port."""
    port = free_port()
    runtime_dir = tmp_path_factory.mktemp("jupyter-runtime")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime_dir)}
    process = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "lab",
            f"LAB_ARGS=--no-browser --port={port} --IdentityProvider.token={TOKEN}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so the whole group (make, jupyter) can be stopped
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if get(f"{base_url}/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"make lab did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield base_url, runtime_dir
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.parametrize(
    "path",
    [
        "exercises/04-hashtags.ipynb",
        "solutions/04-hashtags.ipynb",
        "notebooks/00-tour.ipynb",
        "README.md",
    ],
)
def test_the_file_browser_reaches_every_part_of_the_workbook(lab, path):
    base_url, _ = lab
    status, body = get(f"{base_url}/api/contents/{path}?content=0")
    assert status == 200, body
    assert json.loads(body)["path"] == path


def test_the_lab_opens_on_the_first_notebook(lab):
    _, runtime_dir = lab
    pages = [page.read_text() for page in runtime_dir.glob("*open.html")]
    assert any("lab/tree/notebooks/00-tour.ipynb" in page for page in pages), pages


def test_the_notebooks_folder_holds_only_what_learners_read():
    """Test plumbing (conftest.py and the like) lives in tests/, not beside the notebooks."""
    tracked = subprocess.run(
        ["git", "ls-files", "notebooks"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    unexpected = [
        path
        for path in tracked
        if not (path.endswith((".ipynb", ".md")) or path.startswith("notebooks/images/"))
    ]
    assert unexpected == []
