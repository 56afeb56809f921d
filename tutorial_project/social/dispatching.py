"""A consumer's receive loop without a new task and an asyncio.wait per message.

Channels' AsyncConsumer.__call__ hands its two sources, the client's `receive`
and the channel layer's, to `channels.utils.await_many_dispatch`, which for every
message creates a task for the next receive and waits on all of them with
`asyncio.wait` (a future, and a done-callback added to and removed from each
task). A live event to S subscribers pays that S times; `make bench` measured it
at about a tenth of the server's CPU time per event (notebook 09).

`dispatch_in_turn` keeps what await_many_dispatch promises: messages are
dispatched one at a time, never concurrently; each source is read again only once
its last message has been dispatched, so a slow consumer still leaves its events
in the layer, where `capacity` bounds them; the first exception (StopConsumer
when the client leaves) ends the loop and the receives still waiting are
cancelled. It reads each source in one long-lived task and takes turns at
dispatch through a lock.
"""

import asyncio
import functools

from asgiref.sync import async_to_sync
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer


async def dispatch_in_turn(receivers, dispatch):
    """Read every one of `receivers` and pass each message to `dispatch`, one at a
    time, until one of them raises."""
    turn = asyncio.Lock()

    async def read(receive):
        while True:
            message = await receive()
            async with turn:
                await dispatch(message)

    readers = [asyncio.create_task(read(receive)) for receive in receivers]
    try:
        done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_EXCEPTION)
        for reader in readers:
            if reader in done:
                reader.result()  # raises what ended it
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


class DispatchInTurnMixin:
    """AsyncConsumer.__call__ as in Channels 4.3, with dispatch_in_turn in place
    of await_many_dispatch. Mix in last before the consumer's Channels or DCRF
    base class: nothing between them may define __call__."""

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        receivers = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            receivers.append(self.channel_receive)
        self.base_send = async_to_sync(send) if self._sync else send
        try:
            await dispatch_in_turn(receivers, self.dispatch)
        except StopConsumer:
            pass
