"""Which URL a cell gives the learner's browser, and how the project serves a
request that a path-prefix proxy forwards (config/proxy.py)."""

import json

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator

from config.proxy import PathPrefixProxyMiddleware
from notebook_runtime import LiveServer
from notebook_runtime.hosting import behind_a_proxy, browser_url, jupyter_base_url

PORT = 8123


@pytest.fixture
def nowhere(monkeypatch):
    """A process that is no Jupyter kernel: the test suite, a script."""
    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JPY_PARENT_PID", "WORKBOOK_LINKS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_outside_jupyter_the_browser_opens_the_server_itself(nowhere):
    assert jupyter_base_url() is None and not behind_a_proxy()
    assert browser_url(PORT) == "http://127.0.0.1:8123/"
    assert browser_url(PORT, "/admin/") == "http://127.0.0.1:8123/admin/"


def kernel_of_a_server_with(monkeypatch, tmp_path, base_url):
    """What a kernel started by a Jupyter server sees: JPY_PARENT_PID, and the
    server's runtime file (the keys jupyter_server writes)."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("JPY_PARENT_PID", "4242")
    (tmp_path / "jpserver-4242.json").write_text(
        json.dumps({"base_url": base_url, "port": 8888, "url": f"http://127.0.0.1:8888{base_url}"})
    )


def test_a_local_lab_at_the_root_links_the_server_itself(nowhere, tmp_path):
    kernel_of_a_server_with(nowhere, tmp_path, "/")
    assert jupyter_base_url() == "/"
    assert browser_url(PORT) == "http://127.0.0.1:8123/"


def test_behind_a_base_url_links_go_through_the_proxy(nowhere, tmp_path):
    kernel_of_a_server_with(nowhere, tmp_path, "/user/learner/")
    assert browser_url(PORT) == "/user/learner/proxy/absolute/8123/"
    assert browser_url(PORT, "admin/") == "/user/learner/proxy/absolute/8123/admin/"


def test_on_jupyterhub_the_service_prefix_decides(nowhere):
    nowhere.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice")
    assert jupyter_base_url() == "/user/alice/"
    assert browser_url(PORT) == "/user/alice/proxy/absolute/8123/"


@pytest.mark.parametrize(
    "choice, expected", [("direct", "http://127.0.0.1:8123/"), ("proxy", "/proxy/absolute/8123/")]
)
def test_workbook_links_overrides_the_choice(nowhere, choice, expected):
    nowhere.setenv("WORKBOOK_LINKS", choice)
    assert browser_url(PORT) == expected


@pytest.mark.django_db
async def test_a_server_links_open_in_a_new_tab(nowhere):
    async with LiveServer() as server:
        link = server.link("admin/")
        assert str(link) == f"http://127.0.0.1:{server.port}/admin/"
        assert link._repr_html_() == (
            f'<a href="http://127.0.0.1:{server.port}/admin/" target="_blank" rel="noopener">'
            f"http://127.0.0.1:{server.port}/admin/</a>"
        )


# The middleware, at the ASGI level --------------------------------------------

PREFIX = "/user/learner/proxy/absolute/8123"


async def echo_scope(scope, receive, send):
    """An app that answers with what it was given."""
    seen = {
        "root_path": scope.get("root_path", ""),
        "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
    }
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(seen)})
        await send({"type": "websocket.close"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(seen).encode()})


async def seen_over_http(app, path, headers):
    response = await HttpCommunicator(app, "GET", path, headers=headers).get_response()
    return json.loads(response["body"])


HUB = [(b"host", b"hub.example.org"), (b"origin", b"https://hub.example.org")]


async def test_a_trusted_prefix_mounts_the_site_there_and_takes_the_hub_as_its_own_origin():
    app = PathPrefixProxyMiddleware(echo_scope, [PREFIX], trust_host=True)
    seen = await seen_over_http(app, PREFIX + "/login/alice/", HUB)
    assert seen["root_path"] == PREFIX
    own = seen["headers"]["host"]
    assert own != "hub.example.org" and seen["headers"]["origin"] == f"http://{own}"


@pytest.mark.django_db
async def test_a_foreign_origin_stays_foreign_and_the_project_refuses_it():
    from config.asgi import application as project

    app = PathPrefixProxyMiddleware(project, [PREFIX], trust_host=True)
    foreign = WebsocketCommunicator(
        app,
        PREFIX + "/ws/",
        headers=[(b"host", b"hub.example.org"), (b"origin", b"https://evil.example")],
    )
    connected, _ = await foreign.connect()
    assert not connected
    same_site = WebsocketCommunicator(app, PREFIX + "/ws/", headers=HUB)
    connected, _ = await same_site.connect()
    assert connected
    await same_site.disconnect()


async def test_other_paths_and_untrusted_prefixes_pass_unchanged():
    app = PathPrefixProxyMiddleware(echo_scope, [PREFIX], trust_host=True)
    for path in ("/login/alice/", "/user/mallory/proxy/absolute/8123/", PREFIX + "x/"):
        seen = await seen_over_http(app, path, HUB)
        assert seen["root_path"] == "" and seen["headers"]["host"] == "hub.example.org", path


async def test_without_trust_host_only_the_mount_point_changes():
    app = PathPrefixProxyMiddleware(echo_scope, [PREFIX])
    seen = await seen_over_http(app, PREFIX + "/", HUB)
    assert seen["root_path"] == PREFIX and seen["headers"]["host"] == "hub.example.org"


@pytest.mark.django_db
async def test_the_page_links_static_files_and_its_root_under_the_prefix():
    from config.asgi import application as project

    app = PathPrefixProxyMiddleware(project, [PREFIX], trust_host=True)
    response = await HttpCommunicator(app, "GET", PREFIX + "/", headers=HUB).get_response()
    page = response["body"].decode()
    assert response["status"] == 200
    assert f'href="{PREFIX}/static/social/feed.css"' in page
    assert f'"siteRoot": "{PREFIX}/"' in page
    # The same process still serves the site at its root, with root links.
    response = await HttpCommunicator(
        project, "GET", "/", headers=[(b"host", b"127.0.0.1")]
    ).get_response()
    assert 'href="/static/social/feed.css"' in response["body"].decode()


def test_proxy_prefixes_come_from_the_environment(monkeypatch):
    import importlib

    import config.settings

    monkeypatch.setenv("DJANGO_PROXY_PREFIXES", "/user/a/proxy/absolute/8000, /p/")
    try:
        assert importlib.reload(config.settings).PROXY_PREFIXES == [
            "/user/a/proxy/absolute/8000",
            "/p/",
        ]
    finally:
        monkeypatch.delenv("DJANGO_PROXY_PREFIXES")
        importlib.reload(config.settings)
