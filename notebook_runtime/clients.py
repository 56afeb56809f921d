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
import urllib.parse
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
        return await self._reply_to(
            request_id, action, self.timeout if timeout is None else timeout
        )

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


# Close codes the server refuses a handshake's sign-in with (social/auth.py).
SIGN_IN_CLOSE_CODES = {4400, 4401}


class SignInRefused(Exception):
    """The server closed the connection at once: it did not accept the token."""

    def __init__(self, code: int, reason: str):
        super().__init__(
            f"The server refused to sign you in (close code {code}): {reason}. "
            "Check CLASS_TOKEN, or ask your instructor for a new one."
        )
        self.code = code
        self.reason = reason


async def connect(
    server,
    *,
    username: str | None = None,
    token: str | None = None,
    origin: str | None = None,
    path: str = "/ws/",
) -> WebSocketClient:
    """Open a WebSocket to the live post API: anonymous, signed in as `username`,
    or signed in with a `token`.

    `server` is a LiveServer or a URL such as "http://127.0.0.1:8000" (a path
    prefix is kept: "https://hub.example/services/classroom/"). `username` uses
    the development sign-in (DEBUG servers only). `token` is sent the way
    social/auth.py accepts it, in the handshake's Authorization header, never in
    the URL; a server that refuses it raises SignInRefused, saying why.

    The Origin header defaults to the server's own URL, as a browser on that site
    would send it; AllowedHostsOriginValidator refuses a handshake without one.
    """
    if username is not None and token is not None:
        raise TypeError("Sign in with a username or a token, not both.")
    base_url = _http_url(getattr(server, "url", server))
    headers = {}
    user_id = None
    if username is not None:
        http = HttpSession(base_url)
        user_id = (await http.sign_in(username))["user_id"]
        headers["Cookie"] = http.cookie_header()
    if token is not None:
        headers["Authorization"] = f"Token {token.strip()}"
    connection = await websocket_connect(
        "ws" + base_url.removeprefix("http") + path,
        origin=origin or _origin_of(base_url),
        additional_headers=headers,
        open_timeout=10,
    )
    if token is not None:
        await _confirm_sign_in(connection)
    return WebSocketClient(connection, username=username, user_id=user_id)


async def _confirm_sign_in(connection, timeout: float = 10) -> None:
    """Raise SignInRefused if the server closes a token's connection at once.

    A refused token is told after the handshake (close code 4401, social/auth.py),
    so an open connection proves nothing yet. The server answers a ping only
    after whatever it sent first, a refusal's close included.
    """
    try:
        pong = await connection.ping()
        await asyncio.wait_for(pong, timeout)
    except ConnectionClosed:
        if connection.close_code in SIGN_IN_CLOSE_CODES:
            raise SignInRefused(connection.close_code, connection.close_reason) from None
        raise


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


def _origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: an Origin header never carries a path."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
