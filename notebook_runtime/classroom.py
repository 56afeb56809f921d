"""Join the class: the whole room on one network, posting from their notebooks.

    room = await join(CLASS_URL, token=CLASS_TOKEN)   # from your sign-in sheet
    await room.follow("workshop")
    await room.post("Hello from my notebook #workshop")
    await room.watch()                                # prints the room's posts
    await room.leave()

The instructor runs the class server (README, "Classroom mode") and projects its
feed page at ?tag=workshop. A learner's notebook signs in with the token from the
sheet, sent in the handshake's Authorization header (tutorial_project's
social/auth.py), over the same client the other notebooks use.

With no class server (CLASS_URL empty, and no SOCIAL_CLASS_URL in the environment),
join() opens a practice room instead: the finished project on this kernel's own
loop, an account for you and one for a classmate, who says hello once you follow.
Same tokens, same code path, so the cell works (and is checked) anywhere.
"""

import os

from .clients import connect
from .django_setup import setup_django
from .server import start_server

PRACTICE_USERS = ("you", "classmate")
# In the practice room nobody else is typing: watch() stops once it has been quiet this long.
PRACTICE_QUIET_SECONDS = 1.0


class RequestRefused(Exception):
    """The class server answered a request with an error status."""


async def join(url: str | None = None, *, token: str | None = None) -> "Room":
    """Connect to the class server at `url` with your `token`, or, when there is
    no `url`, to a practice room of your own."""
    url = (url or os.environ.get("SOCIAL_CLASS_URL", "")).strip()
    token = (token or os.environ.get("SOCIAL_CLASS_TOKEN", "")).strip()
    if not url:
        return await _practice_room()
    if not token:
        raise ValueError(
            "Joining a class needs the token from your sign-in sheet: "
            'CLASS_TOKEN = "..." (or open <class url>/accounts/token/ once signed in).'
        )
    return Room(url, await connect(url, token=token))


async def _practice_room() -> "Room":
    setup_django()
    server = await start_server()
    you, classmate = [
        await connect(server, token=await _practice_token(name)) for name in PRACTICE_USERS
    ]
    return Room(server.url, you, classmate=classmate, server=server)


async def _practice_token(username: str) -> str:
    from channels.db import database_sync_to_async
    from django.contrib.auth import get_user_model

    from social.auth import usable_token_for

    def token_key():
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return usable_token_for(user)[0].key

    return await database_sync_to_async(token_key)()


class Room:
    """Your connection to the class: follow hashtags, post, watch what arrives."""

    def __init__(self, url: str, client, *, classmate=None, server=None):
        self.url = url.rstrip("/") + "/"
        self.client = client
        self.tags: list[str] = []
        self.posts: list[dict] = []  # what watch() has shown, oldest first
        self._classmate = classmate
        self._server = server
        self._shown: set[int] = set()

    @property
    def practice(self) -> bool:
        return self._server is not None

    @property
    def projector_url(self) -> str:
        """The feed page following this room's hashtags, for the projector."""
        return self.url + "?" + "&".join(f"tag={tag}" for tag in self.tags)

    async def follow(self, tag: str = "workshop") -> None:
        """Receive every new post with #`tag`, from anyone in the room."""
        tag = tag.removeprefix("#")
        await self._request("subscribe_to_hashtag", hashtag=tag)
        self.tags.append(tag)
        where = "the practice room (no class server set)" if self.practice else self.url
        print(f"Following #{tag} in {where}.")
        if self._classmate is not None:
            body = f"Welcome to the class! Say hello with #{tag}."
            await self._classmate.request("create", data={"body": body})

    async def post(self, text: str) -> dict:
        """Publish `text` as you; returns the stored post."""
        reply = await self._request("create", data={"body": text})
        return reply["data"]

    async def watch(self, *, seconds: float = 30, max_posts: int = 20) -> None:
        """Print the posts that arrive, as "@author: body", for at most `seconds`
        or `max_posts` posts; each is kept in `self.posts` too. Run the cell again
        to keep watching."""
        posts = []
        quiet = PRACTICE_QUIET_SECONDS if self.practice else seconds
        for _ in range(max_posts * 4):  # events, not posts: bounded either way
            if len(posts) >= max_posts:
                break
            try:
                event = await self.client.next_message(timeout=min(quiet, seconds))
            except TimeoutError:
                break
            if event.get("action") != "create" or event.get("pk") in self._shown:
                continue  # an edit, a deletion, or a post already shown
            self._shown.add(event["pk"])
            post = (await self._request("retrieve", pk=event["pk"]))["data"]
            print(f"@{post['author_username']}: {post['body']}")
            posts.append(post)
        self.posts.extend(posts)

    async def leave(self) -> None:
        """Close your connection (and the practice room's server)."""
        for client in (self.client, self._classmate):
            if client is not None:
                await client.close()
        if self._server is not None:
            await self._server.stop()

    async def _request(self, action: str, **params) -> dict:
        reply = await self.client.request(action, **params)
        if reply["response_status"] >= 300:
            raise RequestRefused(
                f"The class server refused {action!r} ({reply['response_status']}): "
                f"{reply['errors']}"
            )
        return reply

    def __repr__(self):
        where = "practice room" if self.practice else self.url
        return f"<Room {where} following {', '.join('#' + t for t in self.tags) or 'nothing'}>"
