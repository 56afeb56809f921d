"""Fixtures shared by the suite: users, connections to the consumer, a live server."""

import pytest
from channels.layers import channel_layers

from notebook_runtime import LiveServer, communicate


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """A new in-memory channel layer per test: no group or queue outlives its test
    (or the event loop that test ran on)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob")


@pytest.fixture
async def api():
    """Open ApiCommunicator connections as a user (or None: anonymous); all are
    closed after the test."""
    sessions = []

    async def open_as(user=None):
        session = await communicate(user)
        sessions.append(session)
        return session

    yield open_as
    for session in sessions:
        await session.close()


@pytest.fixture
async def asgi_server():
    async with LiveServer() as server:
        yield server
