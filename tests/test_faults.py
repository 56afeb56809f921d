"""The server rides out the faults a deployment meets: Redis restarting under it,
and one of its server processes killed. Nothing stored is lost, the processes that
are left keep serving, and clients get back to live updates by reconnecting, as
the live page does by itself (social/outages.py, feed.js)."""

import asyncio
import shutil
import signal

import pytest
from channels.layers import InMemoryChannelLayer
from django.test import override_settings
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from websockets.exceptions import InvalidStatus

from notebook_runtime.processes import (
    REDIS_HINT,
    DeployedServer,
    RedisServer,
    manage,
    session_cookie,
    shared_sqlite_database,
)
from notebook_runtime.stress import call, connect_many, next_event
from social.outages import CLOSE_LAYER_UNAVAILABLE

from .helpers import require

WAIT = 15  # s: the longest any one step may take

LOST = "The channel layer cannot be reached"
REACHED = "The channel layer can be reached again"


# In-process: a layer that fails as channels_redis does while Redis is away ------


class UnreachableGroupsLayer(InMemoryChannelLayer):
    """Delivers to channels, but fails to add one to a group, as channels_redis
    does when Redis goes away while a connection waits for its next message."""

    async def group_add(self, group, channel):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379 (test)")


@pytest.mark.django_db(transaction=True)
async def test_without_the_layer_a_subscribe_answers_503_and_the_connection_stays(api):
    layers = {"default": {"BACKEND": f"{__name__}.UnreachableGroupsLayer"}}
    with override_settings(CHANNEL_LAYERS=layers):
        session = await api()
        refused = await session.request("subscribe_to_hashtag", hashtag="outage")
        assert refused["response_status"] == 503 and refused["errors"], refused
        assert (await session.request("list"))["response_status"] == 200


# Real processes -------------------------------------------------------------------


@pytest.fixture
def redis():
    require(shutil.which("redis-server") is not None, REDIS_HINT)
    with RedisServer() as server:
        yield server


@pytest.fixture
def database(tmp_path):
    return shared_sqlite_database(tmp_path)


async def close_code(socket):
    """Wait for the server to end the connection; its close code (1006: none sent)."""
    async with asyncio.timeout(WAIT):
        await socket.wait_closed()
    return socket.close_code


SAVE_A_POST = (
    "from django.contrib.auth.models import User; from social.models import Post; "
    "Post.objects.create(author=User.objects.get(username='alice'), body='{body}')"
)


def stored_bodies(database):
    script = (
        "from social.models import Post; print(sorted(Post.objects.values_list('body', flat=True)))"
    )
    return manage("shell", "-c", script, SQLITE_PATH=database).strip().splitlines()[-1]


async def reconnect_as_the_page_does(server, cookie):
    """What the live page does after a 4503, with Redis back: reconnect, subscribe
    again, list the feed (the post saved during the outage is in it), and receive
    live events again."""
    (subscriber,) = await connect_many(server, 1)
    assert (await call(subscriber, 1, "subscribe_to_list"))["response_status"] == 201
    listed = await call(subscriber, 2, "list")
    assert "during" in [post["body"] for post in listed["data"]]
    (writer,) = await connect_many(server, 1, cookie)
    assert (await call(writer, 1, "create", data={"body": "after"}))["response_status"] == 201
    assert (await next_event(subscriber))["data"] == {"body": "after"}
    await subscriber.close()
    await writer.close()


def assert_one_outage_logged(output):
    """One line when the layer was lost, one when it was reached again, no traceback."""
    assert output.count(LOST) == 1, output
    assert output.count(REACHED) == 1, output
    assert "Traceback" not in output, output


async def test_after_a_redis_restart_the_server_stays_up_and_live_events_resume(redis, database):
    cookie = session_cookie("alice", SQLITE_PATH=database)
    with DeployedServer(SQLITE_PATH=database, REDIS_URL=redis.url) as server:
        subscribers = await connect_many(server, 3)
        for subscriber in subscribers:
            assert (await call(subscriber, 1, "subscribe_to_list"))["response_status"] == 201
        (writer,) = await connect_many(server, 1, cookie)
        assert (await call(writer, 1, "create", data={"body": "before"}))["response_status"] == 201
        for subscriber in subscribers:
            assert (await next_event(subscriber))["data"] == {"body": "before"}

        redis.stop()
        # Every connection is closed with the code the page explains, not dropped.
        for socket in [*subscribers, writer]:
            assert await close_code(socket) == CLOSE_LAYER_UNAVAILABLE
        assert server.process.poll() is None
        # A post saved elsewhere meanwhile (a management command, a worker) is stored;
        # only its event is lost, and nobody was connected to receive it.
        manage(
            "shell",
            "-c",
            SAVE_A_POST.format(body="during"),
            SQLITE_PATH=database,
            REDIS_URL=redis.url,
        )

        with RedisServer(port=redis.port):  # back, and empty: the groups are gone
            await reconnect_as_the_page_does(server, cookie)
        output = server.output()
    assert_one_outage_logged(output)
    assert stored_bodies(database) == "['after', 'before', 'during']"


async def test_on_the_pubsub_layer_a_redis_restart_closes_connections_until_redis_is_back(
    redis, database
):
    """REDIS_LAYER=pubsub: connections read their events from their own process,
    so the layer (social/layers.py) closes them with 4503 when its own read from
    Redis fails, as the core layer's reads do. A client that reconnects, as the
    page does, once Redis is back, lists what it missed and receives events again."""
    cookie = session_cookie("alice", SQLITE_PATH=database)
    environment = {"SQLITE_PATH": database, "REDIS_URL": redis.url, "REDIS_LAYER": "pubsub"}
    with DeployedServer(**environment) as server:
        (subscriber,) = await connect_many(server, 1)
        assert (await call(subscriber, 1, "subscribe_to_list"))["response_status"] == 201
        (writer,) = await connect_many(server, 1, cookie)
        assert (await call(writer, 1, "create", data={"body": "before"}))["response_status"] == 201
        assert (await next_event(subscriber))["data"] == {"body": "before"}

        redis.stop()
        for socket in (subscriber, writer):
            assert await close_code(socket) == CLOSE_LAYER_UNAVAILABLE
        # Each channel of this layer is a Redis subscription: no new connection
        # until Redis is back. A post saved meanwhile is stored, without its event.
        with pytest.raises(InvalidStatus, match="HTTP 403"):
            await connect_many(server, 1)
        manage(
            "shell",
            "-c",
            SAVE_A_POST.format(body="during"),
            SQLITE_PATH=database,
            REDIS_URL=redis.url,
            REDIS_LAYER="pubsub",
        )

        with RedisServer(port=redis.port):
            await reconnect_as_the_page_does(server, cookie)
        output = server.output()
    assert_one_outage_logged(output)
    assert stored_bodies(database) == "['after', 'before', 'during']"


async def test_on_the_pubsub_layer_a_dropped_subscription_closes_connections(redis, database):
    """Redis stays up but cuts the layer's subscription connection (a proxy's idle
    timeout, CLIENT KILL): redis-py subscribes again before any read fails, so
    only the layer's reconnect hook can tell the connections their events have
    a gap. They are closed with 4503 and the page's reconnect works at once."""
    cookie = session_cookie("alice", SQLITE_PATH=database)
    environment = {"SQLITE_PATH": database, "REDIS_URL": redis.url, "REDIS_LAYER": "pubsub"}
    with DeployedServer(**environment) as server:
        (subscriber,) = await connect_many(server, 1)
        assert (await call(subscriber, 1, "subscribe_to_list"))["response_status"] == 201

        with Redis.from_url(redis.url) as client:
            assert client.client_kill_filter(_type="pubsub") >= 1
        assert await close_code(subscriber) == CLOSE_LAYER_UNAVAILABLE
        manage("shell", "-c", SAVE_A_POST.format(body="during"), SQLITE_PATH=database)
        await reconnect_as_the_page_does(server, cookie)
        output = server.output()
    assert_one_outage_logged(output)


async def test_killing_one_of_two_server_processes_leaves_the_other_serving(redis, database):
    cookie = session_cookie("alice", SQLITE_PATH=database)
    environment = {"SQLITE_PATH": database, "REDIS_URL": redis.url}
    with DeployedServer(**environment) as doomed, DeployedServer(**environment) as survivor:
        (on_doomed,) = await connect_many(doomed, 1)
        (on_survivor,) = await connect_many(survivor, 1)
        for subscriber in (on_doomed, on_survivor):
            assert (await call(subscriber, 1, "subscribe_to_list"))["response_status"] == 201
        (writer,) = await connect_many(doomed, 1, cookie)
        assert (await call(writer, 1, "create", data={"body": "before"}))["response_status"] == 201
        assert (await next_event(on_survivor))["data"] == {"body": "before"}

        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(timeout=WAIT)
        assert await close_code(on_doomed) == 1006  # no close frame from a killed process

        # The survivor's clients keep receiving, from writers on the survivor.
        (writer,) = await connect_many(survivor, 1, cookie)
        assert (await call(writer, 1, "create", data={"body": "after"}))["response_status"] == 201
        assert (await next_event(on_survivor))["data"] == {"body": "after"}
        # A client of the killed process reconnects to the survivor.
        (moved,) = await connect_many(survivor, 1)
        listed = await call(moved, 1, "list")
        assert [post["body"] for post in listed["data"]] == ["after", "before"]
        for socket in (on_survivor, writer, moved):
            await socket.close()
        assert survivor.process.poll() is None
    assert stored_bodies(database) == "['after', 'before']"
