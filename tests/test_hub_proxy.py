"""The live page through a hub's proxy, end to end, with real parts only.

A real Jupyter server with a JupyterHub-style base URL (/user/learner/) and
jupyter-server-proxy; the project's server started by the notebook runtime, as
notebook 07 starts it; a real Chromium that reaches the Jupyter server under a
host name that is not a loopback name (mapped to 127.0.0.1 inside the browser), as
a browser reaches a hub. Pages, static files, the sign-in redirect and the
WebSocket all go through `<base_url>proxy/absolute/<port>/`.
"""

import asyncio
import os
import sys
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed

from notebook_runtime import LiveServer
from notebook_runtime.browser import INSTALL_HINT, launch_chromium
from notebook_runtime.processes import free_port

from .helpers import jupyter_process

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "/user/learner/"
TOKEN = "hub-proxy-test-token"
HUB_HOST = "hub.workbook.test"  # resolved to 127.0.0.1 by the browser alone
LIVE = 2000  # ms


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    """`jupyter server` as a hub's single-user server runs it: a base URL, a
    token, remote access allowed (the browser names the hub's host)."""
    port = free_port()
    runtime_dir = tmp_path_factory.mktemp("jupyter-runtime")
    command = [
        str(Path(sys.executable).parent / "jupyter"),
        "server",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.base_url={BASE_URL}",
        f"--ServerApp.root_dir={ROOT}",
        f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.allow_remote_access=True",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    status_url = f"http://127.0.0.1:{port}{BASE_URL}api/status?token={TOKEN}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime_dir)}
    with jupyter_process(command, status_url, env=env) as process:
        yield {"port": port, "pid": process.pid, "runtime_dir": runtime_dir}


@pytest.fixture
def kernel_of(jupyter_server, monkeypatch):
    """This process seen as a kernel of that server: what jupyter_client sets in a
    kernel's environment (JPY_PARENT_PID), and where the server's runtime file is."""
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("WORKBOOK_LINKS", raising=False)
    monkeypatch.setenv("JPY_PARENT_PID", str(jupyter_server["pid"]))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(jupyter_server["runtime_dir"]))
    return jupyter_server


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        try:
            chromium = await launch_chromium(
                playwright, [f"--host-resolver-rules=MAP {HUB_HOST} 127.0.0.1"]
            )
        except RuntimeError:
            if os.environ.get("CI"):
                raise
            pytest.skip(INSTALL_HINT)
        yield chromium
        await chromium.close()


async def test_the_live_page_works_through_the_hubs_proxy(kernel_of, browser):
    hub = f"http://{HUB_HOST}:{kernel_of['port']}"
    async with LiveServer() as server:
        proxied = f"{BASE_URL}proxy/absolute/{server.port}/"
        assert server.browser_url == proxied  # what a cell links to

        async def open_as(username):
            context = await browser.new_context()
            page = await context.new_page()
            page.on("pageerror", lambda error: pytest.fail(f"JavaScript error: {error}"))
            failed, sockets = [], []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.on("websocket", lambda socket_: sockets.append(socket_.url))
            # Signing in to Jupyter sets its cookie, as the hub's login does.
            await page.goto(f"{hub}{BASE_URL}api/status?token={TOKEN}")
            # The development sign-in, opened by hand: it must land on the feed,
            # under the prefix.
            await page.goto(f"{hub}{proxied}login/{username}/")
            await expect(page).to_have_url(f"{hub}{proxied}")
            await expect(page.locator("#status")).to_have_attribute("data-state", "live")
            assert await page.locator("#username").text_content() == username
            # The WebSocket went through the proxy, under the same prefix.
            assert sockets == [f"ws://{HUB_HOST}:{kernel_of['port']}{proxied}ws/"]
            return page, failed

        alice, alice_failed = await open_as("alice")
        bob, bob_failed = await open_as("bob")

        # The stylesheet and the script are linked under the prefix (and loaded:
        # no response failed, below).
        stylesheet = await alice.locator("link[rel=stylesheet]").get_attribute("href")
        script = await alice.locator("script[src]").get_attribute("src")
        assert stylesheet.startswith(f"{proxied}static/") and script.startswith(f"{proxied}static/")

        await bob.fill("#filter-tag", "#python")
        await bob.click("#add-filter button")
        await expect(bob.locator("#filter-list")).to_contain_text("#python")
        await alice.fill("#compose-body", "Through the hub #python")
        await alice.click("#compose button")
        post = bob.locator("#feed .post", has_text="Through the hub #python")
        await expect(post).to_be_visible(timeout=LIVE)
        await expect(post.locator(".author")).to_have_text("alice")
        assert alice_failed == [] and bob_failed == []


async def test_a_foreign_origin_is_refused_through_the_proxy(kernel_of):
    """The proxy completes the browser's handshake before it connects onwards, so a
    refusal by the project's Origin check shows as a connection closed unanswered."""
    async with LiveServer() as server:
        url = f"ws://127.0.0.1:{kernel_of['port']}{BASE_URL}proxy/absolute/{server.port}/ws/"
        headers = {"Authorization": f"token {TOKEN}"}
        request = '{"action": "list", "request_id": 1}'
        async with websocket_connect(
            url, origin="http://evil.example", additional_headers=headers
        ) as connection:
            with pytest.raises(ConnectionClosed):
                await connection.send(request)
                await asyncio.wait_for(connection.recv(), 10)
        # The same handshake from the Jupyter server's own origin is answered.
        own = f"http://127.0.0.1:{kernel_of['port']}"
        async with websocket_connect(url, origin=own, additional_headers=headers) as connection:
            await connection.send(request)
            assert '"response_status": 200' in await asyncio.wait_for(connection.recv(), 10)
