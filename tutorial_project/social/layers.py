"""A single-process channel layer whose cost per message does not grow with the
number of connections.

Channels' `InMemoryChannelLayer` is written for tests. Profiled under fan-out
(`make bench`, notebook 09), three of its habits cost more the more subscribers
a server holds:

- every `receive()` and `group_send()` first walks every channel and every group
  membership looking for expired entries, so one post fanned out to S subscribers
  walks about S x S entries;
- every `receive()` and `send()` builds a new `asyncio.Queue` just to pass it to
  `dict.setdefault()`, and `receive()` deletes a channel's queue as soon as it is
  empty, so a consumer that keeps up gets a new queue for every message;
- `group_send()` starts one task per member channel to put one message in a queue.

This subclass keeps the layer's behaviour (capacity, message expiry, group
expiry, a copy of the message for each receiver) and changes only when that work
is done: the expiry sweep runs at most once per `sweep_interval` seconds, and
also removes the empty queues of channels nobody is receiving from; a queue is
built only for a new channel; group_send puts the messages directly. (Its
deepcopy per receiver stays: a plain-data copy gained nothing measurable in
`make bench`.) A message that finds a channel full is still dropped, as
Channels' layers do, but no longer silently: the first one dropped for a channel is logged (one line, not
one per message, until the channel takes a message again), so raise `capacity`
if you see it for clients that are keeping up.

`OutageReportingPubSubChannelLayer` is channels_redis's Pub/Sub layer, except
that it tells the consumers of its process when its subscription to Redis is
interrupted (social/outages.py says what they do then).
"""

import asyncio
import logging
import time
from collections import Counter
from copy import deepcopy

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close, decode_hosts
from redis.asyncio.client import PubSub

from .outages import LAYER_UNAVAILABLE, layer_health

logger = logging.getLogger(__name__)


class FanOutInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, sweep_interval=1.0, **kwargs):
        super().__init__(**kwargs)
        self.sweep_interval = sweep_interval
        self._next_sweep = 0.0
        self._receivers = Counter()  # channel -> receive() calls waiting on it
        self._full = set()  # channels that dropped a message since they last took one

    def _sweep_if_due(self):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            self._clean_expired()
            for channel, queue in list(self.channels.items()):
                if queue.empty() and not self._receivers[channel]:
                    del self.channels[channel]
            self._receivers = +self._receivers  # forget the zero counts

    def _queue(self, channel):
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        return queue

    def _put(self, channel, message):
        try:
            self._queue(channel).put_nowait((time.time() + self.expiry, deepcopy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel)
        if self._full:
            self._full.discard(channel)

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, message)

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._sweep_if_due()
        queue = self._queue(channel)
        self._receivers[channel] += 1
        try:
            _, message = await queue.get()
        finally:
            self._receivers[channel] -= 1
        return message

    async def flush(self):
        await super().flush()
        self._receivers.clear()
        self._full.clear()

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._sweep_if_due()
        for channel in list(self.groups.get(group, ())):
            try:
                self._put(channel, message)
            except ChannelFull:
                if channel not in self._full:
                    self._full.add(channel)
                    logger.warning(
                        "Channel %s is full (capacity %d): messages to it are dropped "
                        "until its consumer catches up (first: one to group %s).",
                        channel,
                        self.get_capacity(channel),
                        group,
                    )


# The message every consumer of a process receives when the process's pub/sub
# connection to Redis was interrupted (LayerOutageMixin.layer_interrupted).
LAYER_INTERRUPTED = "layer.interrupted"

# Seconds between attempts to reach Redis again (channels_redis waits 1 s too).
RECONNECT_INTERVAL = 1.0


class OutageReportingPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels_redis's Pub/Sub layer, telling consumers about a lost subscription.

    Each process reads its groups' messages from one Redis connection. When that
    connection drops (Redis restarts, the network is cut), redis-py connects again
    and subscribes again by itself, and the process carries on as if nothing had
    happened: whatever was published in between never reaches it, and nothing
    says so. This layer puts a LAYER_INTERRUPTED message in the queue of every
    channel of the process when its read from Redis fails, or, if redis-py
    repaired the connection before a read failed, when it subscribes again; each
    consumer then knows its events have a gap.

    While Redis is away this layer, like channels_redis's, cannot open a channel
    (each is a Redis subscription of its own), so new connections are refused at
    the handshake until it is back.
    """

    def _get_layer(self):
        # As RedisPubSubChannelLayer._get_layer, building the loop layer below.
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = OutageReportingLoopLayer(
                *self._args, **self._kwargs, channel_layer=self
            )
            _wrap_close(self, loop)
            return layer


class OutageReportingLoopLayer(RedisPubSubLoopLayer):
    """One event loop's share of the layer, with shards that report an interruption."""

    def __init__(self, hosts=None, **kwargs):
        super().__init__(hosts, **kwargs)
        self._shards = [OutageReportingShard(host, self) for host in decode_hosts(hosts)]

    def report_interruption(self):
        message = self.channel_layer.serialize({"type": LAYER_INTERRUPTED})
        for queue in self.channels.values():
            queue.put_nowait(message)


class OutageReportingShard(RedisSingleShardConnection):
    def _ensure_redis(self):
        if self._redis is None:
            super()._ensure_redis()
            self._pubsub = InterruptionReportingPubSub(
                self._redis.connection_pool, on_interruption=self.channel_layer.report_interruption
            )

    async def unsubscribe(self, channel):
        # A consumer closed while Redis is away leaves its channel and groups:
        # there is nothing to tell Redis, which forgot every subscription when it
        # went. channels_redis would log a traceback per connection and subscribe
        # the name again once Redis is back.
        try:
            await super().unsubscribe(channel)
        except LAYER_UNAVAILABLE as error:
            layer_health.report_lost(error)
            self._subscribed_to.discard(channel)
            self._pubsub.forget(channel)


class InterruptionReportingPubSub(PubSub):
    """redis-py's PubSub, calling `on_interruption` when a read first fails, or
    else when it subscribes again on a new connection. on_connect is the
    documented hook for the second: redis-py calls it whenever the connection is
    re-established, and it is the one place that knows the subscriptions were cut.

    While Redis is away, channels_redis's receive task would log a traceback for
    every failed read, once a second; this logs the outage once (social/outages.py)
    and waits as long between attempts."""

    def __init__(self, *args, on_interruption, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_interruption = on_interruption
        self.interrupted = False  # reported, and not yet subscribed again

    async def get_message(self, *args, **kwargs):
        try:
            return await super().get_message(*args, **kwargs)
        except LAYER_UNAVAILABLE as error:
            layer_health.report_lost(error)
            if not self.interrupted:
                self.interrupted = True
                self.on_interruption()
            await asyncio.sleep(RECONNECT_INTERVAL)
            return None

    async def on_connect(self, connection):
        # Subscribed before this connection: it is a reconnect. After a failed
        # read every channel there was has been told already, and any channel
        # now is new: its subscription is what reconnected.
        if self.subscribed and not self.interrupted:
            self.on_interruption()
        await super().on_connect(connection)
        self.interrupted = False

    def forget(self, channel):
        """Drop a subscription without telling Redis, so it is not renewed."""
        (key,) = self._normalize_keys({channel: None})
        self.channels.pop(key, None)
