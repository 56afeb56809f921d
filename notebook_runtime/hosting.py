"""Where this kernel runs, and the URL a learner's browser should open for a server.

On a laptop the browser and the kernel share a machine: a server on
http://127.0.0.1:PORT/ is one click away. On JupyterHub or Binder the kernel runs
somewhere the browser cannot reach, and only the Jupyter server is exposed, at its
base URL (``/user/<name>/`` on a hub). jupyter-server-proxy, installed with the
workbook, forwards ``<base_url>proxy/absolute/<port>/`` to a port inside the
learner's server, WebSocket included, so that path is the one to open. (The
"absolute" form passes the whole path on, so the server knows where it is mounted;
see tutorial_project/config/proxy.py.)

The base URL comes from JUPYTERHUB_SERVICE_PREFIX, which JupyterHub (and so Binder)
sets in every single-user server, or else from the Jupyter server that started this
kernel (its ``jpserver-<pid>.json`` runtime file). WORKBOOK_LINKS=proxy or =direct
overrides the choice, e.g. for a Jupyter server reached through an SSH tunnel.
"""

import json
import os
from pathlib import Path

HOST = "127.0.0.1"


def jupyter_base_url() -> str | None:
    """The base URL of the Jupyter server this kernel belongs to, ending in "/",
    or None outside Jupyter (a script, the test suite)."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        return _with_slashes(prefix)
    parent = os.environ.get("JPY_PARENT_PID")
    if not parent:
        return None
    info = _server_info(parent)
    return _with_slashes(info["base_url"]) if info and "base_url" in info else None


def behind_a_proxy() -> bool:
    """Whether a browser should reach this kernel's servers through the Jupyter
    server's proxy rather than at 127.0.0.1."""
    choice = os.environ.get("WORKBOOK_LINKS", "").strip().lower()
    if choice in ("proxy", "direct"):
        return choice == "proxy"
    base_url = jupyter_base_url()
    return bool(os.environ.get("JUPYTERHUB_SERVICE_PREFIX")) or base_url not in (None, "/")


def proxy_prefix(port: int) -> str:
    """The path jupyter-server-proxy serves a port under, without its final "/"."""
    return f"{jupyter_base_url() or '/'}proxy/absolute/{port}"


def browser_url(port: int, path: str = "") -> str:
    """The URL to open in the learner's browser for `path` on a server at `port`.

    Behind a proxy this is an absolute path (no host: the browser is already on the
    hub's), otherwise http://127.0.0.1:PORT/path.
    """
    path = path.lstrip("/")
    if behind_a_proxy():
        return f"{proxy_prefix(port)}/{path}"
    return f"http://{HOST}:{port}/{path}"


def _with_slashes(path: str) -> str:
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def _server_info(pid: str) -> dict | None:
    from jupyter_core.paths import jupyter_runtime_dir

    try:
        return json.loads((Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json").read_text())
    except (OSError, ValueError):
        return None
