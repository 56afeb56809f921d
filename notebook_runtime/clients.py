"""A small JSON client for the live post API, for cells and tests.

ApiSession holds what every client of the API needs, whatever carries the bytes:
send an action with a fresh request_id and wait for the reply with that id, while
keeping every other message (live events, replies to raw text) in arrival order
for `next_message()`. WebSocketClient carries it over a real WebSocket connection;
ApiCommunicator (communicator.py) over Channels' WebsocketCommunicator.
"""
import asyncio
import contextlib
import json
from collections import deque

from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed

from .http import HttpSession
from .server import report_server_errors

# Clients not yet closed, so that cleanup() can close what a notebook left open,
# even a client the notebook kept no variable for.
open_sessions: "set[ApiSession]" = set()


class ApiSession:
    """Request/reply and pushed messages over one connection."""

    timeout: float = 5.0

    def __init__(self):
        self._last_request_id = 0
        self._unclaimed: deque = deque()
        open_sessions.add(self)

    async def request(self, action: str, *, timeout: float | None = None, **params) -> dict:
        """Send {"action": action, "request_id": <new id>, **params}; return the reply."""
        self._last_request_id += 1
        request_id = self._last_request_id
        await self.send_json({"action": action, "request_id": request_id, **params})
        return await self._reply_to(request_id, action, self.timeout if timeout is None else timeout)

    async def send_json(self, message) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        """Send raw text, JSON or not (to see how the server answers bad input)."""
        raise NotImplementedError

    async def next_message(self, timeout: float | None = None) -> dict:
        """The next message not claimed as a reply by `request()`: a live event, or
        the reply to something sent with send_text()/send_json()."""
        if self._unclaimed:
            return self._unclaimed.popleft()
        return await self._receive(self.timeout if timeout is None else timeout, "message")

    async def close(self) -> None:
        open_sessions.discard(self)
        await self._close()

    async def _close(self) -> None:
        raise NotImplementedError

    async def _reply_to(self, request_id, action, timeout):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = max(deadline - loop.time(), 0)
            message = await self._receive(
                remaining, f"reply to {action!r} (request_id {request_id})"
            )
            if (
                isinstance(message, dict)
                and "response_status" in message
                and message.get("request_id") == request_id
            ):
                return message
            self._unclaimed.append(message)

    async def _receive(self, timeout: float, what: str):
        try:
            return json.loads(await self._receive_text(timeout))
        except TimeoutError:
            raise TimeoutError(f"No {what} arrived within {timeout:g} s.") from None

    async def _receive_text(self, timeout: float) -> str:
        """The next text frame; raise TimeoutError after `timeout` seconds."""
        raise NotImplementedError

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()


class WebSocketClient(ApiSession):
    """The API over a real WebSocket connection (the `websockets` library)."""

    def __init__(self, connection, username: str | None = None, user_id: int | None = None):
        super().__init__()
        self.connection = connection
        self.username = username
        self.user_id = user_id

    async def send_text(self, text: str) -> None:
        with _reporting_server_errors():
            await self.connection.send(text)

    async def _receive_text(self, timeout: float) -> str:
        with _reporting_server_errors():
            return await asyncio.wait_for(self.connection.recv(), timeout)

    async def _close(self) -> None:
        await self.connection.close()

    def __repr__(self):
        who = self.username or "anonymous"
        return f"<WebSocketClient {who} {self.connection.state.name.lower()}>"


async def connect(
    server, *, username: str | None = None, origin: str | None = None, path: str = "/ws/"
) -> WebSocketClient:
    """Open a WebSocket to the live post API, anonymous or signed in as `username`.

    `server` is a LiveServer or a base URL such as "http://127.0.0.1:8000". The
    Origin header defaults to the server's own URL, as a browser on that site would
    send it; AllowedHostsOriginValidator refuses a handshake without one.
    """
    base_url = _http_url(getattr(server, "url", server))
    headers = {}
    user_id = None
    if username is not None:
        http = HttpSession(base_url)
        user_id = (await http.sign_in(username))["user_id"]
        headers["Cookie"] = http.cookie_header()
    connection = await websocket_connect(
        "ws" + base_url.removeprefix("http") + path,
        origin=origin or base_url,
        additional_headers=headers,
        open_timeout=10,
    )
    return WebSocketClient(connection, username=username, user_id=user_id)


@contextlib.contextmanager
def _reporting_server_errors():
    """When the connection drops, say why, under the cell that sees it: the
    server logged the application's error (if any) just before closing."""
    try:
        yield
    except ConnectionClosed:
        report_server_errors()
        raise


def _http_url(url: str) -> str:
    url = url.rstrip("/")
    if url.startswith("ws"):
        url = "http" + url.removeprefix("ws")
    return url.removesuffix("/ws")
