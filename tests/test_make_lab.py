"""`make lab` serves the whole workbook: notebooks, exercises, solutions, README."""

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from notebook_runtime.processes import free_port

from .helpers import jupyter_process

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "workbook-test-token"


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
    command = [
        "make",
        "--no-print-directory",
        "lab",
        f"LAB_ARGS=--no-browser --port={port} --IdentityProvider.token={TOKEN}",
    ]
    base_url = f"http://127.0.0.1:{port}"
    with jupyter_process(command, f"{base_url}/api/status?token={TOKEN}", env=env, cwd=ROOT):
        yield base_url, runtime_dir


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
    """Test plumbing (conftest.py and the like) lives in tests/, not beside the notebooks.

    Besides notebooks and their images, learners read the results `make bench` saved for
    notebook 09 to plot.
    """
    tracked = subprocess.run(
        ["git", "ls-files", "notebooks"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    unexpected = [
        path
        for path in tracked
        if not (
            path.endswith((".ipynb", ".md"))
            or path.startswith("notebooks/images/")
            or path == "notebooks/results/fanout.json"
        )
    ]
    assert unexpected == []
