"""Token sign-in on the WebSocket handshake, for clients that are not browsers.

A browser signs in with its session cookie (Channels' AuthMiddlewareStack). A
script, a notebook or a phone app has no cookie; it sends a token instead:

    Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b

The token is DRF's (rest_framework.authtoken): one per user, shown to its owner at
/accounts/token/, managed in the admin, handed out to a room by `manage.py
classroom_accounts`. It was chosen over a signed token (django.core.signing) because
it can be revoked: deleting the row ends it at once, where a signed token stays valid
until it expires. It expires too, SOCIAL_TOKEN_MAX_AGE_DAYS after it was issued.

Never in the query string (?token=...): URLs end up in server and proxy logs, in
browser history and in Referer headers. A handshake that tries is refused, so the
mistake is found on the first attempt rather than in a leaked log.

A refused handshake is accepted and closed at once with a code and a reason the
client can show, because a handshake rejected with HTTP 403 tells the client nothing:

    4400  the token was sent in the URL
    4401  unknown, revoked or expired token, or a deactivated account

A token revoked while its connection is open (an instructor's `classroom_accounts
--revoke`, the admin) ends that connection's right to write: every write on a
connection signed in by token checks the token again (check_still_signed_in,
which does the same for a session signed out elsewhere), so it works from any
process, whatever the channel layer. Reading, like an anonymous connection's,
goes on until the client reconnects.
"""

from datetime import timedelta
from importlib import import_module
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotAuthenticated

from .sessions import AuthMiddlewareStack

CLOSE_TOKEN_IN_URL = 4400
CLOSE_TOKEN_REFUSED = 4401

AUTHORIZATION_SCHEME = "token"


def token_expires_at(token: Token):
    return token.created + timedelta(days=settings.SOCIAL_TOKEN_MAX_AGE_DAYS)


def usable_token_for(user) -> tuple[Token, bool]:
    """(token, created), as get_or_create answers: `user`'s token while it is
    unexpired, else a new one in place of the expired one."""
    token = Token.objects.filter(user=user).first()
    if token is not None and token_expires_at(token) > timezone.now():
        return token, False
    if token is not None:
        token.delete()
    return Token.objects.create(user=user), True


class TokenRefused(Exception):
    """The handshake's token signs nobody in; the message says why."""


def user_for_token(key: str):
    """The active user whose unexpired token is `key`; TokenRefused otherwise."""
    try:
        token = Token.objects.select_related("user").get(key=key)
    except Token.DoesNotExist:
        raise TokenRefused("unknown or revoked token") from None
    expires_at = token_expires_at(token)
    if expires_at <= timezone.now():
        raise TokenRefused(f"token expired on {expires_at:%Y-%m-%d %H:%M} UTC")
    if not token.user.is_active:
        raise TokenRefused("this account is deactivated")
    return token.user


SIGNED_OUT = (
    "You are no longer signed in (you signed out, or your password changed): sign in again."
)


def check_still_signed_in(scope) -> None:
    """Raise NotAuthenticated unless the connection's sign-in still holds.

    A WebSocket signs in once, at its handshake; a consumer calls this before each
    write. A connection signed in by token has its token checked again: revoked or
    expired, the write is refused. One signed in by session has its session read
    again, as Django reads it for each request: signed out (in another tab, say)
    or its password changed since, the write is refused. It works from any
    process, whatever the channel layer. Synchronous, so that it runs in the
    write's own trip to the database thread, not in one of its own.
    """
    if "auth_token" in scope:
        try:
            user_for_token(scope["auth_token"])
        except TokenRefused as refusal:
            raise NotAuthenticated(f"Your sign-in token no longer works ({refusal}).") from None
    elif session_key := getattr(scope.get("session"), "session_key", None):
        request = HttpRequest()
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        if get_user(request).pk != scope["user"].pk:
            raise NotAuthenticated(SIGNED_OUT)


def token_from_headers(headers) -> str | None:
    """The key of an `Authorization: Token <key>` header, or None without one."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            if scheme.lower() == AUTHORIZATION_SCHEME:
                return key.strip()
    return None


class TokenAuthMiddleware(BaseMiddleware):
    """Puts the user of the handshake's token into scope["user"].

    Goes inside AuthMiddlewareStack, so that a token, when one is sent, decides
    who the connection is, whatever session cookie came with it. Without a token
    the session's user (or AnonymousUser) stands.
    """

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await super().__call__(scope, receive, send)
        if "token" in parse_qs(scope.get("query_string", b"").decode("latin-1")):
            return await refuse(
                receive,
                send,
                CLOSE_TOKEN_IN_URL,
                "send the token in the Authorization header, never in the URL",
            )
        key = token_from_headers(scope.get("headers", []))
        if key is None:
            return await super().__call__(scope, receive, send)
        try:
            user = await database_sync_to_async(user_for_token)(key)
        except TokenRefused as refusal:
            return await refuse(receive, send, CLOSE_TOKEN_REFUSED, str(refusal))
        return await super().__call__(dict(scope, user=user, auth_token=key), receive, send)


async def refuse(receive, send, code: int, reason: str) -> None:
    """Accept the handshake, then close it with `code` and `reason` (at most 123
    bytes), the only way a WebSocket can tell its client why."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})


def TokenAuthMiddlewareStack(inner):
    """Channels' AuthMiddlewareStack (cookies, session, its user; the project's
    variant in social/sessions.py), with a token overriding the session's user when
    the handshake sends one."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
