"""Group memberships that last as long as their connection.

channels_redis's core layer forgets a group membership `group_expiry` seconds
(a day, by default) after it was added: that is how the memberships of a crashed
server process leave Redis. A connection open for longer would silently stop
receiving its events. daphne avoids it by closing every WebSocket after a day
(its `--websocket_timeout`); uvicorn, which the project deploys with, has no such
limit, and the live page would not know to reconnect.

So a connection renews its memberships itself, every half `group_expiry`. The
renewal is a message the connection sends to its own channel, so it is dispatched
in turn with the others (dispatching.py) and never races a subscribe or an
unsubscribe. A layer without `group_expiry` (the pub/sub layer's subscriptions
last as long as the process) renews nothing.
"""

import asyncio
import logging

from channels.exceptions import ChannelFull

from .outages import LAYER_UNAVAILABLE

logger = logging.getLogger(__name__)

RENEW_GROUPS = "groups.renew"


class GroupRenewalMixin:
    """Mix into a WebSocket consumer that joins groups through DCRF's add_group."""

    async def __call__(self, scope, receive, send):
        self.group_renewal = None
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.group_renewal is not None:
                self.group_renewal.cancel()
                await asyncio.gather(self.group_renewal, return_exceptions=True)

    async def connect(self):
        await super().connect()
        group_expiry = getattr(self.channel_layer, "group_expiry", None)
        if group_expiry and self.group_renewal is None:
            self.group_renewal = asyncio.create_task(self.ask_for_renewals(group_expiry / 2))

    async def ask_for_renewals(self, every):
        while True:
            await asyncio.sleep(every)
            try:
                await self.channel_layer.send(self.channel_name, {"type": RENEW_GROUPS})
            except (ChannelFull, *LAYER_UNAVAILABLE):
                # A connection too far behind to take it is being dropped; while the
                # layer is away the connection is closed (outages.py). Either way,
                # the next renewal is soon enough.
                logger.debug("Skipped renewing the groups of %s", self.channel_name)

    async def groups_renew(self, message):
        """Add this connection to its groups again: each membership starts anew."""
        for name in list(self.groups):
            await self.channel_layer.group_add(name, self.channel_name)
