"""`make wheelhouse` fills a folder from which `make install OFFLINE=1` installs, with no network.

An instructor runs `make wheelhouse` where there is a network and copies the folder to
USB sticks; in a room without one, `make lab OFFLINE=1` (which runs `make install
OFFLINE=1`) installs every pin from it. These tests build the wheelhouse in a
temporary folder and install a fresh venv from it with every package index out of reach.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
# Downloading every pin (about 170 MB) the first time; pip's cache serves later runs (~20 s).
WHEELHOUSE_TIMEOUT = 600
INSTALL_TIMEOUT = 300  # about 35 s
UNREACHABLE = "http://127.0.0.1:9/"  # the discard port on loopback: nothing answers
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", re.MULTILINE)


def pins() -> dict[str, str]:
    return {
        canonicalize_name(name): version
        for name, version in PIN.findall((ROOT / "requirements.txt").read_text())
    }


def make(
    *arguments: str, env: dict[str, str] | None = None, timeout: int
) -> subprocess.CompletedProcess:
    base = env if env is not None else os.environ
    # A make that runs this suite (make test) must not pass its own flags down.
    env = {
        key: value for key, value in base.items() if key not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *arguments, f"PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def without_network() -> dict[str, str]:
    """The environment of a machine with no network: pip reads no configuration file and
    no PIP_* setting of this machine, and its index and any proxy are an unroutable port."""
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=UNREACHABLE, PIP_RETRIES="0")
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[proxy] = UNREACHABLE
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("usb-stick") / "wheelhouse"
    result = make("wheelhouse", f"WHEELHOUSE={folder}", timeout=WHEELHOUSE_TIMEOUT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return folder


def test_the_wheelhouse_holds_a_wheel_of_every_pin_and_nothing_to_build(wheelhouse):
    """One wheel per pin of requirements.txt, at the pinned version; no source archive,
    so the offline install never builds (or downloads build tools)."""
    wheels = {}
    for path in wheelhouse.iterdir():
        if path.name == "README.md":
            continue
        assert path.suffix == ".whl", f"not a wheel: {path.name}"
        name, version, _, _ = parse_wheel_filename(path.name)
        wheels.setdefault(name, set()).add(str(version))
    missing = {
        name: version for name, version in pins().items() if version not in wheels.get(name, set())
    }
    assert missing == {}


def test_its_readme_says_how_to_install_offline_and_what_pip_does_not_bring(wheelhouse):
    """The note on the stick: the offline command, and the system programs to install
    beforehand (Chromium, redis-server, PostgreSQL for the tests)."""
    note = (wheelhouse / "README.md").read_text()
    for words in (
        "make lab OFFLINE=1",
        "WHEELHOUSE=",
        "chromium",
        "redis-server",
        "postgresql",
        "python3-venv",
    ):
        assert words in note


def test_a_fresh_venv_installs_every_pin_from_it_with_no_network(wheelhouse, tmp_path):
    """`make install OFFLINE=1` into a new venv, with every index and proxy unreachable,
    installs exactly the pins, and the workbook's packages import."""
    venv = tmp_path / "venv"
    result = make(
        "install",
        "OFFLINE=1",
        f"VENV={venv}",
        f"WHEELHOUSE={wheelhouse}",
        env=without_network(),
        timeout=INSTALL_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    python = str(venv / "bin" / "python")
    imports = "django, channels, daphne, djangochannelsrestframework, uvicorn, websockets, jupyterlab, notebook_runtime"
    subprocess.run([python, "-c", f"import {imports}"], check=True, timeout=60)
    installed = json.loads(
        subprocess.run(
            [
                python,
                "-c",
                "import importlib.metadata as m, json;"
                "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    installed = {canonicalize_name(name): version for name, version in installed.items()}
    assert {
        name: installed.get(name) for name in pins() if installed.get(name) != pins()[name]
    } == {}


def test_offline_without_a_wheelhouse_says_how_to_make_one(tmp_path):
    """OFFLINE=1 with no wheelhouse stops before pip, and says what to do."""
    missing = tmp_path / "no-wheelhouse"
    result = make(
        "install",
        "OFFLINE=1",
        f"VENV={tmp_path / 'venv'}",
        f"WHEELHOUSE={missing}",
        env=without_network(),
        timeout=INSTALL_TIMEOUT,
    )
    assert result.returncode != 0
    assert f"installs from {missing}/, which is not there" in result.stdout
    assert "make wheelhouse" in result.stdout
