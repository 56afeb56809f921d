"""The notebook runtime: a server that starts, stops and starts again on one loop
leaving nothing behind, and the async/sync rules it explains."""

import asyncio
import logging
import socket

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from websockets.exceptions import ConnectionClosed, InvalidStatus

from notebook_runtime import LiveServer, connect, setup_django, start_server
from social.models import Post

from .helpers import create_post

pytestmark = pytest.mark.django_db(transaction=True)


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_start_stop_and_start_again_leaves_nothing_running():
    tasks_before = asyncio.all_tasks()
    ports = []
    for _ in range(2):
        server = await start_server()
        ports.append(server.port)
        assert server.running and port_is_open(server.port)
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.ws_url == f"ws://127.0.0.1:{server.port}/ws/"
        async with await connect(server, username="alice") as client:
            assert (await client.request("list"))["response_status"] == 200
        await server.stop()
        assert not server.running
    assert not any(port_is_open(port) for port in ports)
    assert asyncio.all_tasks() == tasks_before


async def test_stop_closes_open_connections():
    tasks_before = asyncio.all_tasks()
    server = await start_server()
    client = await connect(server)
    await client.request("subscribe_to_list")
    await server.stop()
    with pytest.raises(ConnectionClosed):
        await client.connection.recv()
    await client.close()
    assert asyncio.all_tasks() == tasks_before


async def test_stop_is_idempotent_and_start_twice_is_an_error():
    server = LiveServer()
    with pytest.raises(RuntimeError, match="not been started"):
        server.url
    await server.stop()  # never started: nothing to do
    async with server:
        with pytest.raises(RuntimeError, match="already running"):
            await server.start()
    await server.stop()
    assert repr(server) == "<LiveServer stopped>"


@pytest.mark.django_db
def test_setup_django_is_idempotent(alice, monkeypatch):
    """A second call keeps the database and its rows, and migrates nothing again."""
    from django.conf import settings

    from notebook_runtime import django_setup

    first = setup_django()
    monkeypatch.setattr(django_setup, "_migrate", lambda: pytest.fail("migrated a second time"))
    assert setup_django() == first == str(settings.DATABASES["default"]["NAME"])
    assert type(alice).objects.filter(pk=alice.pk).exists()


async def test_sync_orm_in_the_loop_thread_is_refused(alice):
    with pytest.raises(SynchronousOnlyOperation):
        Post.objects.create(author=alice, body="from a cell")


async def test_allow_async_unsafe_stores_the_post_but_loses_its_event(api, alice, monkeypatch):
    """The trap the runtime's docstring describes, reproduced."""
    watcher = await api()
    await watcher.request("subscribe_to_list")
    await watcher.request("subscribe_to_hashtag", hashtag="sentinel")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with pytest.raises(RuntimeError, match="You cannot use AsyncToSync in the same thread"):
        Post.objects.create(author=alice, body="stored, never announced")
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE")
    assert await Post.objects.filter(body="stored, never announced").aexists()
    sentinel_pk = (await create_post(alice, "sentinel #sentinel")).pk
    # The list subscription sees the sentinel (once per group); nothing came before it.
    assert (await watcher.next_message())["pk"] == sentinel_pk


async def test_sync_to_async_stores_the_post_and_sends_its_event(api, alice):
    watcher = await api()
    await watcher.request("subscribe_to_list")
    post = await sync_to_async(Post.objects.create)(author=alice, body="announced")
    assert await watcher.next_message() == {
        "action": "create",
        "pk": post.pk,
        "data": {"body": "announced"},
    }


async def test_database_sync_to_async_sends_its_event_thread_safely(alice):
    """The save run_sync's docstring recommends when the live event matters, over a
    real server as in a notebook. asyncio's debug mode raises on any wake-up of the
    loop from another thread, which is how run_sync's saves deliver their events."""
    from channels.db import database_sync_to_async

    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(True)
    try:
        async with await start_server() as server:
            async with await connect(server) as watcher:
                await watcher.request("subscribe_to_list")
                post = await database_sync_to_async(Post.objects.create)(
                    author=alice, body="announced"
                )
                assert await watcher.next_message(timeout=5) == {
                    "action": "create",
                    "pk": post.pk,
                    "data": {"body": "announced"},
                }
    finally:
        loop.set_debug(debug)


async def test_communicator_helpers_act_as_the_given_user(api, alice):
    reply = await (await api(alice)).request("create", data={"body": "hi"})
    assert reply["data"]["author"] == alice.pk
    reply = await (await api()).request("create", data={"body": "hi"})
    assert reply["response_status"] == 403


async def test_request_times_out_with_a_clear_message(api):
    session = await api()
    with pytest.raises(TimeoutError, match=r"No message arrived within 0.05 s"):
        await session.next_message(timeout=0.05)


async def test_an_explicit_zero_timeout_is_not_the_default(api):
    session = await api()
    with pytest.raises(TimeoutError, match=r"within 0 s"):
        await session.next_message(timeout=0)


async def test_http_session_returns_an_error_status_instead_of_raising(asgi_server):
    from notebook_runtime import HttpSession

    status, body = await HttpSession(asgi_server.url).get("/no-such-page/")
    assert status == 404 and body


async def test_server_serves_a_consumer_written_elsewhere():
    """start_server(consumer=...) wraps any consumer in the project's ASGI stack."""
    from channels.generic.websocket import AsyncJsonWebsocketConsumer

    class Echo(AsyncJsonWebsocketConsumer):
        async def receive_json(self, content, **kwargs):
            user = self.scope["user"]
            await self.send_json({"echo": content, "user": user.username or None})

    async with await start_server(consumer=Echo) as server:
        async with await connect(server, username="alice") as client:
            await client.send_json({"hello": 1})
            assert await client.next_message() == {"echo": {"hello": 1}, "user": "alice"}
        with pytest.raises(InvalidStatus):
            await connect(server, origin="http://evil.example")


async def test_the_client_that_sees_the_drop_reports_the_servers_error(capsys):
    """uvicorn logs an exception from the application in the server's own task,
    whose output a kernel shows under the cell that started the server. Nothing is
    printed then: the client call that sees the connection drop prints the line,
    and the server keeps the traceback in `errors`."""
    from channels.generic.websocket import AsyncJsonWebsocketConsumer

    class Broken(AsyncJsonWebsocketConsumer):
        async def receive_json(self, content, **kwargs):
            raise ValueError(f"broken by {content}")

    error_logger = logging.getLogger("uvicorn.error")
    handlers_before = list(error_logger.handlers)
    async with await start_server(consumer=Broken) as server:
        assert server.errors == []
        async with await connect(server) as client:
            await client.send_json({"hello": 1})
            assert capsys.readouterr().err == ""
            # uvicorn logs the exception, then closes the connection.
            with pytest.raises(ConnectionClosed):
                await client.next_message(timeout=5)
            assert capsys.readouterr().err == (
                f"[LiveServer 127.0.0.1:{server.port}] Exception in ASGI application "
                "(traceback in server.errors)\n"
            )
        assert len(server.errors) == 1
        assert server.errors[0].startswith("Exception in ASGI application")
        assert "ValueError: broken by {'hello': 1}" in server.errors[0]
    # Reported once: stopping the server says nothing more.
    assert capsys.readouterr().err == ""
    # Stopped: the errors stay readable, and the server's handler is gone.
    assert len(server.errors) == 1
    assert error_logger.handlers == handlers_before
    # uvicorn's own logging configuration (a stderr handler on "uvicorn") was not
    # installed on the process.
    assert logging.getLogger("uvicorn").handlers == []


async def test_an_error_no_client_saw_is_reported_when_the_server_stops(capsys):
    """A DCRF action that raises is logged by DCRF and by uvicorn; if no client of
    the runtime saw the connection drop, stop() (called from a cell) reports both."""
    from djangochannelsrestframework.decorators import action
    from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
    from djangochannelsrestframework.permissions import AllowAny
    from websockets.asyncio.client import connect as raw_connect

    class Raising(GenericAsyncAPIConsumer):
        permission_classes = (AllowAny,)

        @action()
        async def explode(self, **kwargs):
            raise KeyError("boom")

    server = await start_server(consumer=Raising)
    async with raw_connect(server.ws_url, origin=server.url) as socket_:
        await socket_.send('{"action": "explode", "request_id": 1}')
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(socket_.recv(), 5)
    assert capsys.readouterr().err == ""
    await server.stop()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"[LiveServer 127.0.0.1:{server.port}] Error when handling request: 1 from client "
        "for action: explode (traceback in server.errors)",
        f"[LiveServer 127.0.0.1:{server.port}] Exception in ASGI application "
        "(traceback in server.errors)",
    ]
    assert "KeyError: 'boom'" in server.errors[-1]


async def test_an_edit_in_the_admin_reaches_subscribers(asgi_server, django_user_model):
    from notebook_runtime import HttpSession

    admin_user = await django_user_model.objects.acreate(
        username="admin", is_staff=True, is_superuser=True
    )
    post = await create_post(admin_user, "typo #news")
    async with await connect(asgi_server) as watcher:
        await watcher.request("subscribe_to_hashtag", hashtag="news")
        browser = HttpSession(asgi_server.url)
        await browser.sign_in("admin")
        change_page = f"/admin/social/post/{post.pk}/change/"
        status, _ = await browser.get(change_page)
        assert status == 200
        status, _ = await browser.post_form(
            change_page, {"author": admin_user.pk, "body": "fixed #news", "_save": "Save"}
        )
        assert status == 200  # redirected to the change list
        assert await watcher.next_message() == {
            "action": "update",
            "pk": post.pk,
            "data": {"body": "fixed #news"},
        }


async def test_cleanup_closes_clients_and_stops_servers():
    from notebook_runtime import cleanup

    tasks_before = asyncio.all_tasks()
    server = await start_server()
    await connect(server)
    await connect(server, username="alice")
    assert await cleanup() == "Closed 2 connection(s) and stopped 1 server(s)."
    assert not server.running and not port_is_open(server.port)
    assert asyncio.all_tasks() == tasks_before
    assert await cleanup() == "Closed 0 connection(s) and stopped 0 server(s)."


def test_run_pytest_reports_passes_and_failures(capsys):
    from notebook_runtime import run_pytest

    source = """
import pytest
from notebook_runtime import communicate

pytestmark = pytest.mark.django_db(transaction=True)

async def test_anonymous_may_list():
    async with await communicate() as api:
        assert (await api.request("list"))["response_status"] == 200

async def test_anonymous_may_create():
    async with await communicate() as api:
        assert (await api.request("create", data={"body": "x"}))["response_status"] == 201
"""
    assert run_pytest(source) == 1
    report = capsys.readouterr().out
    assert "1 failed, 1 passed" in report
    assert "test_anonymous_may_create" in report


def test_run_pytest_ignores_this_machines_database_layer_and_pytest_options(capsys, monkeypatch):
    """A DATABASE_URL, REDIS_URL or PYTEST_ADDOPTS set where the notebook runs must not
    reach its tests: each of these would break them or change what they report."""
    from notebook_runtime import run_pytest

    monkeypatch.setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("PYTEST_ADDOPTS", "-k matches_no_test")
    source = """
import os
import pytest
from django.conf import settings
from notebook_runtime import communicate

pytestmark = pytest.mark.django_db(transaction=True)

def test_environment():
    leaked = {"DATABASE_URL", "REDIS_URL", "PYTEST_ADDOPTS"} & set(os.environ)
    assert not leaked
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]

async def test_the_database_answers():
    async with await communicate() as api:
        assert (await api.request("list"))["response_status"] == 200
"""
    assert run_pytest(source) == 0, capsys.readouterr().out
    assert "2 passed" in capsys.readouterr().out
