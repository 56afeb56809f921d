"""What the server does while its channel layer (Redis) cannot be reached.

With REDIS_URL set, every live connection reads its events from Redis and every
saved post is published through it. When Redis stops (a restart, a failover, a
network cut), redis-py raises ConnectionError in three places. Left alone, each
live connection's receive loop would end with a traceback apiece and a socket
closed without a word; a subscribe would answer 500; and a create would answer
500 although its post was stored, so the client would post it again.

Instead:

- each live connection closes with CLOSE_LAYER_UNAVAILABLE (4503). The live page
  (feed.js) says that live updates are interrupted, reconnects after a few seconds,
  restores its subscriptions and reloads the feed: it misses nothing stored.
- a subscribe answers 503, and the connection stays open.
- a create stores its post and answers 201. Its event is not sent; the live
  connections that could have received it were all closed, and reload the feed.
- the process logs one line when it loses the layer, and one when a subscription
  succeeds again. It does not log one traceback per connection.

A Redis that restarts empty has forgotten every group, so there is nothing left
for a connection to resume: a reconnect is the way back. The in-memory layer
never raises these errors.

channels_redis's Pub/Sub layer (REDIS_LAYER=pubsub) fails differently: a
connection reads its events from a queue in its own process, so its own read
never fails, and the layer subscribes again by itself once Redis is back, as if
the events of posts saved meanwhile had not been lost. The project's variant of
that layer (social/layers.py) puts a message in every connection's queue when
the process's read from Redis fails; layer_interrupted() then closes the
connection with 4503 as above, and the page reloads what it missed
(tests/test_faults.py shows both layers).
"""

import contextlib
import logging

from djangochannelsrestframework.observer.model_observer import ModelObserver
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import status
from rest_framework.exceptions import APIException

logger = logging.getLogger(__name__)

# The errors redis-py raises when the server cannot be reached or does not answer.
LAYER_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)

# WebSocket close codes 4000-4999 are the application's own; feed.js explains these.
CLOSE_LAYER_UNAVAILABLE = 4503


class LiveUpdatesUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Live updates are unavailable for the moment: try again in a few seconds."
    default_code = "live_updates_unavailable"


class LayerHealth:
    """Whether this process last found its channel layer reachable, so that an
    outage is logged once when it starts and once when it ends."""

    def __init__(self):
        self.lost = False

    def report_lost(self, error):
        if not self.lost:
            self.lost = True
            logger.error(
                "The channel layer cannot be reached (%s): posts are still stored, without "
                "their events; live connections are closed with code %s and reconnect "
                "by themselves.",
                error,
                CLOSE_LAYER_UNAVAILABLE,
            )

    def report_reached(self):
        if self.lost:
            self.lost = False
            logger.warning("The channel layer can be reached again: live updates resume.")


layer_health = LayerHealth()


class LayerOutageMixin:
    """Mix into a WebSocket consumer, first in its bases (before LimitsMixin, so
    that it sees the unwrapped ASGI send)."""

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except LAYER_UNAVAILABLE as error:
            layer_health.report_lost(error)
            # websocket_disconnect() would leave the groups through the layer
            # first, and fail again; disconnect() releases what connect() took.
            await self.disconnect(CLOSE_LAYER_UNAVAILABLE)
            with contextlib.suppress(Exception):  # the client may be gone already
                await send({"type": "websocket.close", "code": CLOSE_LAYER_UNAVAILABLE})

    async def handle_exception(self, exc, action, request_id):
        if isinstance(exc, LAYER_UNAVAILABLE):
            layer_health.report_lost(exc)
            exc = LiveUpdatesUnavailable()
        await super().handle_exception(exc, action=action, request_id=request_id)

    async def layer_interrupted(self, message):
        """The pub/sub layer's subscription to Redis was cut (social/layers.py):
        events published meanwhile are gone. Close with the code of a failed
        read; the layer lets the connection leave its groups even while Redis
        is away."""
        layer_health.report_lost("its subscription to Redis was interrupted")
        await self.close(code=CLOSE_LAYER_UNAVAILABLE)

    async def add_group(self, name):
        await super().add_group(name)
        layer_health.report_reached()


class OutageTolerantModelObserver(ModelObserver):
    """DCRF's ModelObserver, except that a change saved while the layer cannot be
    reached is still saved: its events are dropped, and the save does not fail."""

    def send_prepared_messages(self, instance):
        try:
            super().send_prepared_messages(instance)
        except LAYER_UNAVAILABLE as error:
            layer_health.report_lost(error)
