"""A connection keeps its hashtag groups for as long as it stays open, however short
the channel layer's group_expiry (social/memberships.py). Real Redis, with the core
layer's group_expiry cut from a day to two seconds."""

import asyncio
import shutil

import pytest
from django.test import override_settings
from redis.asyncio import Redis

from notebook_runtime import communicate
from notebook_runtime.processes import REDIS_HINT, RedisServer
from social.consumers import LivePostConsumer

from .helpers import create_post, require

pytestmark = pytest.mark.django_db(transaction=True)

GROUP_EXPIRY = 2  # s; channels_redis counts it in whole seconds


class ForgetfulConsumer(LivePostConsumer):
    """The project's consumer without the renewal: what channels_redis does alone."""

    async def groups_renew(self, message):
        pass


@pytest.fixture
def redis_layer():
    require(shutil.which("redis-server") is not None, REDIS_HINT)
    with RedisServer() as server:
        layers = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [server.url], "group_expiry": GROUP_EXPIRY},
            }
        }
        with override_settings(CHANNEL_LAYERS=layers):
            yield server


async def group_sizes(server):
    """The members of every group in Redis, by group key."""
    client = Redis.from_url(server.url)
    try:
        keys = [key async for key in client.scan_iter(match="asgi:group:*")]
        return {key: await client.zcard(key) for key in keys}
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "consumer, receives",
    [(LivePostConsumer, True), (ForgetfulConsumer, False)],
    ids=["renewed", "not-renewed"],
)
async def test_a_connection_open_past_group_expiry_keeps_its_groups_only_if_renewed(
    alice, redis_layer, consumer, receives
):
    bob = await communicate(application=consumer.as_asgi())
    try:
        reply = await bob.request("subscribe_to_hashtag", hashtag="python")
        assert reply["response_status"] == 201, reply
        # Time must pass for a membership to expire: wait until the one made at the
        # subscribe is older than group_expiry, by channels_redis's whole seconds.
        await asyncio.sleep(GROUP_EXPIRY + 1.5)
        post = await create_post(alice, "Still here? #python")  # group_send prunes old members

        assert list((await group_sizes(redis_layer)).values()) == ([1] if receives else [])
        if receives:
            assert await bob.next_message() == {
                "action": "create",
                "pk": post.pk,
                "data": {"body": post.body},
            }
    finally:
        await bob.close()
