"""A lean WebSocket subscriber for the fan-out benchmark.

The benchmark's clients must cost less per event than the servers they measure,
or the figure is the client's speed. websockets' asyncio client spends a task
switch and a queue per message; this one is websockets' own sans-I/O protocol
under an asyncio.Protocol: frames are parsed in `data_received` and an event is
recorded there (its sequence number and receipt time), with no task, no queue
and no JSON decoding per event.
"""

import asyncio
import time

from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.typing import Origin
from websockets.uri import parse_uri

HOST = "127.0.0.1"


class LeanSubscriber(asyncio.Protocol):
    """One connection that records every text frame containing `marker` followed by
    a sequence number ("#bench 12 ..."), and queues every other text frame (the
    API's replies) in `replies`."""

    def __init__(self, url: str, marker: bytes):
        self.protocol = ClientProtocol(
            parse_uri(url), origin=Origin(f"http://{HOST}"), max_size=None
        )
        self.marker = marker
        self.received: list[tuple[int, float]] = []  # (sequence, receipt time)
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()
        self.expected = 0
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()
        self.all_received = loop.create_future()

    @classmethod
    async def connect(cls, url: str, marker: bytes, timeout: float = 10) -> "LeanSubscriber":
        port = parse_uri(url).port
        loop = asyncio.get_running_loop()
        _, subscriber = await loop.create_connection(lambda: cls(url, marker), HOST, port)
        await asyncio.wait_for(subscriber.opened, timeout)
        return subscriber

    # asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes):
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                refused = self.protocol.handshake_exc
                self._settle(self.opened, refused if refused is not None else event)
            elif event.opcode is Opcode.TEXT:
                self._frame(event.data)
        self._flush()

    def connection_lost(self, exc):
        self._settle(self.opened, ConnectionError("closed before the handshake"))
        self._settle(self.all_received, None)

    # What the benchmark calls

    def send(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    async def reply(self, timeout: float = 10) -> bytes:
        return await asyncio.wait_for(self.replies.get(), timeout)

    async def wait_for_events(self, count: int, idle_timeout: float) -> None:
        """Return once `count` events have arrived, or none arrived for `idle_timeout` s."""
        self.expected = count
        while len(self.received) < count and not self.transport.is_closing():
            before = len(self.received)
            if before >= count:
                break
            self.all_received = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.all_received, idle_timeout)
            except TimeoutError:
                if len(self.received) == before:
                    return

    def close(self) -> None:
        if not self.transport.is_closing():
            self.protocol.send_close()
            self._flush()
            self.transport.close()

    # Internals

    def _frame(self, data: bytes):
        start = data.find(self.marker)
        if start == -1:
            self.replies.put_nowait(data)
            return
        start += len(self.marker)
        self.received.append((int(data[start : data.index(b" ", start)]), time.perf_counter()))
        if len(self.received) >= self.expected:
            self._settle(self.all_received, None)

    def _flush(self):
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)

    @staticmethod
    def _settle(future, outcome):
        if not future.done():
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
