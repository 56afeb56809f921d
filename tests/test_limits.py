"""Each limit of SOCIAL_LIMITS answers a client that reaches it, and only that client.

The consumer is driven in-process with the limits set low; the slow reader needs a
real server that pauses its sends (uvicorn, as deployed) and a client that stops
reading, so it runs against one.
"""

import asyncio
import json
import socket
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.utils import timezone
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosedError

from notebook_runtime.processes import DeployedServer, session_cookie, shared_sqlite_database
from social.consumers import LivePostConsumer
from social.limits import CLOSE_TOO_MANY_CONNECTIONS
from social.models import Post

from .helpers import assert_error_reply, post_count

pytestmark = pytest.mark.django_db(transaction=True)


@asynccontextmanager
async def limits(**values):
    from django.conf import settings

    with override_settings(SOCIAL_LIMITS={**settings.SOCIAL_LIMITS, **values}):
        yield


async def test_a_message_over_the_length_limit_gets_413_and_the_connection_stays(api):
    async with limits(MAX_MESSAGE_LENGTH=100):
        session = await api()
        await session.send_text(json.dumps({"action": "list", "pad": "x" * 100}))
        reply = await session.next_message()
        assert_error_reply(reply, status=413)
        assert "at most 100 characters" in reply["errors"][0]
        assert (await session.request("list"))["response_status"] == 200


async def test_subscriptions_beyond_the_limit_get_429_until_one_is_given_up(api):
    async with limits(MAX_SUBSCRIPTIONS=3):
        session = await api()
        for request in (
            {"hashtag": "python"},
            {"hashtag": "django"},
            {"hashtag": "#Python"},  # the same subscription again: no room taken
        ):
            assert (await session.request("subscribe_to_hashtag", **request))[
                "response_status"
            ] == 201
        assert (await session.request("subscribe_to_list"))["response_status"] == 201

        refused = await session.request("subscribe_to_hashtag", hashtag="rust")
        assert_error_reply(refused, status=429, request_id=refused["request_id"])
        assert "at most 3 subscriptions" in refused["errors"][0]
        # Full, a subscription held may still be asked for again.
        assert (await session.request("subscribe_to_hashtag", hashtag="PYTHON"))[
            "response_status"
        ] == 201
        assert (await session.request("subscribe_to_list"))["response_status"] == 201

        await session.request("unsubscribe_from_hashtag", hashtag="django")
        assert (await session.request("subscribe_to_hashtag", hashtag="rust"))[
            "response_status"
        ] == 201
        other = await api()  # the limit is per connection
        assert (await other.request("subscribe_to_hashtag", hashtag="rust"))[
            "response_status"
        ] == 201


async def test_posts_beyond_the_rate_limit_get_429_over_all_of_a_users_connections(api, alice, bob):
    async with limits(POSTS_PER_MINUTE=3):
        first, second = await api(alice), await api(alice)
        for session in (first, second, first):
            assert (await session.request("create", data={"body": "hi"}))["response_status"] == 201

        refused = await second.request("create", data={"body": "one too many"})
        assert_error_reply(refused, status=429, request_id=refused["request_id"])
        assert "at most 3 posts per minute" in refused["errors"][0]
        assert "available in" in refused["errors"][0]  # DRF's Throttled says when
        assert await post_count() == 3
        assert not await Post.objects.filter(body="one too many").aexists()

        # bob has his own allowance, and alice's connections still answer
        assert (await (await api(bob)).request("create", data={"body": "mine"}))[
            "response_status"
        ] == 201
        assert (await second.request("list"))["response_status"] == 200


async def test_posts_older_than_a_minute_no_longer_count(api, alice):
    async with limits(POSTS_PER_MINUTE=1):
        session = await api(alice)
        pk = (await session.request("create", data={"body": "early"}))["data"]["pk"]
        assert (await session.request("create", data={"body": "x"}))["response_status"] == 429
        await Post.objects.filter(pk=pk).aupdate(created_at=timezone.now() - timedelta(seconds=61))
        assert (await session.request("create", data={"body": "later"}))["response_status"] == 201


async def open_as(user):
    communicator = WebsocketCommunicator(LivePostConsumer.as_asgi(), "/ws/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def test_a_connection_beyond_the_limit_per_user_is_closed_with_4429(alice, bob):
    from django.contrib.auth.models import AnonymousUser

    async with limits(CONNECTIONS_PER_USER=2):
        held = [await open_as(alice), await open_as(alice)]
        extra = await open_as(alice)
        closed = await extra.receive_output(timeout=5)
        assert closed == {
            "type": "websocket.close",
            "code": CLOSE_TOO_MANY_CONNECTIONS,
            "reason": "At most 2 connections per user",
        }
        # other users and anonymous readers are not counted against alice
        others = [
            await open_as(bob),
            await open_as(AnonymousUser()),
            await open_as(AnonymousUser()),
        ]
        for communicator in others:
            assert await communicator.receive_nothing(timeout=0.1)

        await held[0].disconnect()  # a closed connection frees its place
        again = await open_as(alice)
        assert await again.receive_nothing(timeout=0.1)
        for communicator in [held[1], again, *others]:
            await communicator.disconnect()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """uvicorn as deployed, with a one-second SEND_TIMEOUT."""
    database = shared_sqlite_database(tmp_path_factory.mktemp("limits"))
    with DeployedServer(
        SQLITE_PATH=database, SOCIAL_SEND_TIMEOUT="1", SOCIAL_POSTS_PER_MINUTE="100000"
    ) as server:
        yield server, session_cookie("author", SQLITE_PATH=database)


async def request(connection, **message):
    await connection.send(json.dumps({"request_id": 1, **message}))
    async with asyncio.timeout(10):
        while True:
            reply = json.loads(await connection.recv())
            if "response_status" in reply:
                return reply


TAGS = [f"t{number}" for number in range(50)]
# Matches all 50 of a subscriber's hashtag subscriptions: 51 events per post with
# the list, so that a few hundred posts fill the socket's buffers.
BODY = " ".join(f"#{tag}" for tag in TAGS)


async def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_receiving(deployed):
    server, cookie = deployed
    url = f"ws://127.0.0.1:{server.port}/ws/"
    # A small receive buffer, so the server's sends back up sooner.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.connect(("127.0.0.1", server.port))
    slow = await websocket_connect(url, sock=sock, origin=server.url, max_queue=1)
    reader = await websocket_connect(url, origin=server.url)
    author = await websocket_connect(url, origin=server.url, additional_headers={"Cookie": cookie})
    for hashtag in TAGS:
        assert (await request(slow, action="subscribe_to_hashtag", hashtag=hashtag))[
            "response_status"
        ] == 201
    await request(slow, action="subscribe_to_list")
    await request(reader, action="subscribe_to_list")
    slow.transport.pause_reading()

    received, created = [], []
    progress = asyncio.Event()

    async def read_all():  # the well-behaved subscriber reads all the time
        async for text in reader:
            received.append(json.loads(text)["pk"])
            progress.set()

    reading = asyncio.create_task(read_all())
    async with asyncio.timeout(60):
        while "SEND_TIMEOUT" not in server.output():
            assert len(created) < 2000, "the slow reader was never dropped"
            reply = await request(author, action="create", data={"body": BODY})
            created.append(reply["data"]["pk"])
        # the server goes on serving the others
        for _ in range(3):
            created.append(
                (await request(author, action="create", data={"body": "after"}))["data"]["pk"]
            )
        while len(received) < len(created):
            await progress.wait()
            progress.clear()
    reading.cancel()
    assert received == created

    dropped = [line for line in server.output().splitlines() if "SEND_TIMEOUT" in line]
    assert len(dropped) == 1 and "it took no message for 1.0 s" in dropped[0]
    assert sum("is full" in line for line in server.output().splitlines()) <= 1

    slow.transport.resume_reading()  # what the server buffered, then the end
    with pytest.raises(ConnectionClosedError):
        async with asyncio.timeout(30):
            async for _ in slow:
                pass
    assert slow.close_code == 1006  # no close frame: the client was not reading
    await reader.close()
    await author.close()
