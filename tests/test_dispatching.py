"""The consumer's receive loop (social/dispatching.py) keeps what Channels'
await_many_dispatch promises: one message dispatched at a time, each source read
again only after its message was dispatched, in order, and the loop ends on the
first exception with no receive left running. And the project's session
middleware (social/sessions.py) still gives a WebSocket its session and user."""

import asyncio
from types import SimpleNamespace

import pytest
from channels.exceptions import StopConsumer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from social.dispatching import dispatch_in_turn
from social.sessions import AuthMiddlewareStack

TIMEOUT = 5


class Source:
    """A receive callable fed by the test, counting the reads waiting on it."""

    def __init__(self):
        self.queue = asyncio.Queue()
        self.waiting = 0
        self.cancelled = False

    async def __call__(self):
        self.waiting += 1
        try:
            return await self.queue.get()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.waiting -= 1


async def test_messages_from_two_sources_are_dispatched_one_at_a_time_and_in_order():
    client, layer = Source(), Source()
    dispatched, running, most_running = [], 0, 0
    release = asyncio.Event()

    async def dispatch(message):
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        await release.wait()  # every dispatch waits until the test lets them all go
        dispatched.append(message)
        running -= 1
        if message == "stop":
            raise StopConsumer()

    for number in range(3):
        client.queue.put_nowait(f"client {number}")
        layer.queue.put_nowait(f"event {number}")
    loop = asyncio.create_task(dispatch_in_turn([client, layer], dispatch))
    await asyncio.sleep(0)  # let both readers take their first message
    await asyncio.sleep(0)
    # While the first message waits in dispatch, each source has given exactly one
    # message and is not being read again: the rest stay in its queue.
    assert (client.queue.qsize(), layer.queue.qsize()) == (2, 2)
    assert (client.waiting, layer.waiting) == (0, 0)

    client.queue.put_nowait("stop")
    release.set()
    with pytest.raises(StopConsumer):
        await asyncio.wait_for(loop, TIMEOUT)

    assert most_running == 1
    assert [m for m in dispatched if m.startswith("client")] == [f"client {n}" for n in range(3)]
    assert [m for m in dispatched if m.startswith("event")] == [f"event {n}" for n in range(3)]
    assert dispatched[-1] == "stop"
    assert layer.cancelled and layer.waiting == 0  # its pending receive was cancelled


async def test_an_error_in_a_receive_ends_the_loop_with_that_error():
    client = Source()

    async def broken():
        raise ConnectionError("the layer went away")

    async def dispatch(message):
        pass

    with pytest.raises(ConnectionError, match="went away"):
        await asyncio.wait_for(dispatch_in_turn([client, broken], dispatch), TIMEOUT)
    assert client.cancelled and client.waiting == 0


class SessionProbe:
    """An ASGI app that reports the session, the user and whether `send` is the
    server's own."""

    def __init__(self, server_send):
        self.server_send = server_send

    async def __call__(self, scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        user = scope["user"]
        await send(
            {
                "type": "websocket.send",
                "text": f"{scope['session'].session_key}|{user.username}|{send == self.server_send}",
            }
        )
        await receive()


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_gets_its_session_and_user_and_the_servers_own_send(signed_in_session):
    probe = SessionProbe(server_send=None)
    communicator = WebsocketCommunicator(
        AuthMiddlewareStack(probe), "/ws/", headers=[(b"cookie", signed_in_session.cookie)]
    )
    probe.server_send = communicator.output_queue.put  # what the communicator's send calls
    connected, _ = await communicator.connect(TIMEOUT)
    assert connected
    key, username, own_send = (await communicator.receive_from(TIMEOUT)).split("|")
    assert (key, username) == (signed_in_session.key, signed_in_session.username)
    assert own_send == "True"  # no wrapper between the consumer and the server
    await communicator.disconnect()


@pytest.fixture
def signed_in_session(transactional_db):
    user = get_user_model().objects.create(username="sessionholder")
    client = Client()
    client.force_login(user)
    key = client.cookies["sessionid"].value
    return SimpleNamespace(key=key, username=user.username, cookie=f"sessionid={key}".encode())
