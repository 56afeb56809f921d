"""Channels' SessionMiddleware, without its per-message cost on WebSockets.

Channels' SessionMiddleware wraps `send` so that it can save the session and set
its cookie on an HTTP response (`http.response.start`). On a WebSocket there is no
such message: the wrapper never saves anything there (a consumer that changes the
session calls `scope["session"].save()` itself), yet it still reads the session's
`modified` and `is_empty()` through its lazy object for every frame sent. Under
fan-out that is every event to every subscriber: `make bench` measured the wrapper
at about a tenth of the server's CPU time per event (notebook 09).

This subclass resolves the session exactly as Channels does and, on a WebSocket,
hands the inner application the server's own `send`.
"""

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, InstanceSessionWrapper
from channels.sessions import SessionMiddleware as ChannelsSessionMiddleware


class SessionMiddleware(ChannelsSessionMiddleware):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await super().__call__(scope, receive, send)
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def AuthMiddlewareStack(inner):
    """Channels' AuthMiddlewareStack (cookies, the session, its user), with the
    SessionMiddleware above."""
    return CookieMiddleware(SessionMiddleware(AuthMiddleware(inner)))
