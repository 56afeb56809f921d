"""What one client may ask of the server, and how each limit answers.

The values are settings (SOCIAL_LIMITS in config/settings.py, each with an
environment variable), so that a deployment, a test or `make stress` can change
them. Each limit is enforced in one place and answered in a way a client can act
on:

    MAX_MESSAGE_LENGTH    envelope.EnvelopeMixin: a 413 reply
    MAX_SUBSCRIPTIONS     check_subscription_room(): a 429 reply
    POSTS_PER_MINUTE      check_post_rate(): a 429 reply that says when to retry
    CONNECTIONS_PER_USER  LimitsMixin.connect(): the socket closes with 4429
    SEND_TIMEOUT          LimitsMixin: the connection is dropped (see below)

A connection never ends because of a refused request: only a client holding
too many connections, or one that stopped reading, is disconnected.
"""

import asyncio
import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, Throttled

logger = logging.getLogger(__name__)

# WebSocket close codes 4000-4999 are the application's own; feed.js explains these.
CLOSE_TOO_MANY_CONNECTIONS = 4429


def limit(name):
    """The current value of one limit: read on every use, so override_settings
    (and a test's changed setting) takes effect at once."""
    return settings.SOCIAL_LIMITS[name]


class TooManySubscriptions(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_subscriptions"


def check_subscription_room(held, wanted):
    """Raise TooManySubscriptions unless a connection holding the groups `held`
    may join the groups `wanted`.

    Each subscription is one group, so the groups a connection belongs to count
    its subscriptions; subscribing again to one it holds costs nothing. Both must
    be the names the channel layer sees (DCRF hashes the observer's names).
    """
    most = limit("MAX_SUBSCRIPTIONS")
    if len(set(held) | set(wanted)) > most:
        raise TooManySubscriptions(
            f"A connection may hold at most {most} subscriptions: unsubscribe from one first."
        )


def check_post_rate(user, posts):
    """Raise Throttled if `user` created POSTS_PER_MINUTE posts in the last 60 s.

    Counted in the database rather than in the connection (as exercise 2.2 does),
    so that the limit holds across a user's connections and server processes.
    Two creates racing on two connections may both pass: the limit can be
    exceeded by the number of connections writing at the same instant.
    """
    most = limit("POSTS_PER_MINUTE")
    window_start = timezone.now() - timedelta(minutes=1)
    recent = posts.filter(author_id=user.pk, created_at__gt=window_start)
    if recent.count() >= most:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True)[0]
        wait = (oldest - window_start).total_seconds()
        raise Throttled(wait=wait, detail=f"You may publish at most {most} posts per minute.")


# Signed-in users' open connections in this process (no lock: one event loop).
open_connections = Counter()


class SlowReader(Exception):
    """The client has not taken a message for SEND_TIMEOUT seconds."""


class LimitsMixin:
    """Connections per user, and dropping a client that stopped reading.

    Mix into a WebSocket consumer, first in its bases, and have its dispatch()
    catch SlowReader and call drop_slow_reader().

    A client that stops reading (a frozen tab, a stalled network, a script that
    only sends) fills the socket's buffers; then the server's send waits (uvicorn
    pauses it), and this connection's events pile up in the channel layer, up to
    its capacity. Once a send has waited SEND_TIMEOUT seconds the consumer gives
    up: it leaves its groups and ends, so nothing more queues for it, and the
    others were never held up (the layer's group_send does not wait for a
    receiver). A close frame cannot be sent to a client that does not read: the
    server closes the socket once the little it has buffered is flushed, and the
    client sees the connection end (1006) when it reads again. daphne does not
    pause a send, it buffers without bound, so this limit needs uvicorn.
    """

    async def __call__(self, scope, receive, send):
        self.counted_user_pk = None
        await super().__call__(scope, receive, self.send_or_give_up(send))

    def send_or_give_up(self, send):
        timeout = limit("SEND_TIMEOUT")
        gave_up = False

        async def send_with_timeout(message):
            nonlocal gave_up
            if gave_up:
                raise SlowReader()
            try:
                async with asyncio.timeout(timeout):
                    await send(message)
            except TimeoutError:
                gave_up = True
                raise SlowReader() from None

        return send_with_timeout

    async def drop_slow_reader(self):
        """Call when a send raised SlowReader: log one line, leave the groups and
        end the consumer, as when a client leaves."""
        logger.warning(
            "Dropped the connection from %s: it took no message for %s s (SEND_TIMEOUT).",
            _address(self.scope),
            limit("SEND_TIMEOUT"),
        )
        await self.websocket_disconnect({"type": "websocket.disconnect", "code": 1006})

    async def connect(self):
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            most = limit("CONNECTIONS_PER_USER")
            if open_connections[user.pk] >= most:
                # Accept first, so the browser sees the close code, not a failed handshake.
                await self.accept()
                await self.close(
                    code=CLOSE_TOO_MANY_CONNECTIONS,
                    reason=f"At most {most} connections per user",
                )
                return
            open_connections[user.pk] += 1
            self.counted_user_pk = user.pk
        await super().connect()

    async def disconnect(self, code):
        if self.counted_user_pk is not None:
            open_connections[self.counted_user_pk] -= 1
            if not open_connections[self.counted_user_pk]:
                del open_connections[self.counted_user_pk]
            self.counted_user_pk = None
        await super().disconnect(code)


def _address(scope):
    host, port = scope.get("client") or ("an unknown client", None)
    return f"{host}:{port}" if port else host
