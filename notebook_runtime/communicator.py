"""Drive LivePostConsumer through Channels' WebsocketCommunicator: no server, no
network, the consumer called directly with the scope we choose. The fastest way to
test a consumer, and the way notebook 06 teaches."""

import asyncio
from asyncio import FIRST_COMPLETED

from channels.testing import WebsocketCommunicator

from .clients import ApiSession


class ApiCommunicator(ApiSession):
    """The API over a WebsocketCommunicator, as `user` (None: anonymous).

    Setting scope["user"] stands in for AuthMiddlewareStack, which would read it
    from the session cookie.
    """

    def __init__(self, user=None, application=None, path: str = "/ws/"):
        from django.contrib.auth.models import AnonymousUser

        super().__init__()
        if application is None:
            from social.consumers import LivePostConsumer

            application = LivePostConsumer.as_asgi()
        self.communicator = WebsocketCommunicator(application, path)
        self.communicator.scope["user"] = user if user is not None else AnonymousUser()

    async def connect(self) -> "ApiCommunicator":
        connected, _ = await self.communicator.connect(timeout=self.timeout)
        if not connected:
            raise ConnectionError("The consumer refused the connection.")
        return self

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def send_bytes(self, data: bytes) -> None:
        await self.communicator.send_to(bytes_data=data)

    async def _receive_text(self, timeout: float) -> str:
        # Not WebsocketCommunicator.receive_output(timeout): when its timeout expires
        # it cancels the consumer, and the connection is lost for later requests.
        consumer = self.communicator.future
        output = asyncio.ensure_future(self.communicator.output_queue.get())
        await asyncio.wait({output, consumer}, timeout=timeout, return_when=FIRST_COMPLETED)
        if not output.done():
            output.cancel()
            if consumer.done():
                consumer.result()  # re-raise the exception that ended the consumer
                raise ConnectionError("The consumer has ended.")
            raise TimeoutError
        message = output.result()
        if message["type"] == "websocket.close":
            raise ConnectionError(f"The consumer closed the connection: {message}")
        return message["text"]

    async def _close(self) -> None:
        # Nothing to disconnect if the consumer has ended already, for instance
        # because a receive timed out and WebsocketCommunicator cancelled it.
        if not self.communicator.future.done():
            await self.communicator.disconnect()


async def communicate(user=None, application=None) -> ApiCommunicator:
    """A connected ApiCommunicator; use `async with await communicate(user) as api:`."""
    return await ApiCommunicator(user, application).connect()
