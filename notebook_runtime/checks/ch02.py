"""Checks for exercises/02-websocket-api.ipynb: a custom action, and a rate limit."""

import json

from asgiref.sync import sync_to_async
from django.core.exceptions import ObjectDoesNotExist

from .support import checker_users, create_post, sessions
from .verdict import Check, Verdict


def serialized(posts):
    """What PostSerializer makes of `posts`, as it arrives over JSON."""
    from social.serializers import PostSerializer

    return json.loads(json.dumps(PostSerializer(posts, many=True).data))


def by_body(posts, bodies=None):
    """The posts (dicts) of a reply keyed by body, so that their fields are compared
    and not their order (another check judges the order)."""
    if not isinstance(posts, list):
        return {}
    return {
        post.get("body"): post
        for post in posts
        if isinstance(post, dict) and (bodies is None or post.get("body") in bodies)
    }


async def check_posts_by(consumer_class) -> Verdict:
    """Exercise 2.1: a `posts_by` action: one author's posts, newest first, each as
    PostSerializer shows it; 404 for a user who does not exist, and the connection
    still answers afterwards."""
    authors_posts = "posts_by returns that author's posts only, newest first"
    with_serializer = "each post is serialized with PostSerializer"
    not_found = "a user who does not exist answers 404 with an error"
    still_open = "the connection still answers after the 404"
    check = Check(
        "Exercise 2.1 · a posts_by action",
        [authors_posts, with_serializer, not_found, still_open],
        raised_hints={
            ObjectDoesNotExist: "`.get()` raises DoesNotExist when no user has that name, and "
            "an exception that is not a DRF APIException ends the connection. Look the user up "
            "with .filter(username=username).first() and raise NotFound when that gives None "
            "(or catch the DoesNotExist and raise NotFound)."
        },
    )

    async def scenario():
        async with (
            checker_users("alice", "bob") as (alice, bob),
            sessions(consumer_class, None) as (api,),
        ):
            older = await create_post(alice, "Alice's first post")
            await create_post(bob, "Bob was here")
            newer = await create_post(alice, "Alice again")
            reply = await api.request("posts_by", username=alice.username)
            data = reply.get("data")
            expected_posts = by_body(await sync_to_async(serialized)([newer, older]))
            check.expect(
                authors_posts,
                sent={"action": "posts_by", "username": alice.username},
                expected={"response_status": 200, "bodies": [newer.body, older.body]},
                got={
                    "response_status": reply.get("response_status"),
                    "bodies": [post.get("body") for post in data or [] if isinstance(post, dict)],
                },
                hint="Filter the posts by author, order them by -created_at then -pk, and return "
                "(PostSerializer(posts, many=True).data, 200).",
            )
            check.expect(
                with_serializer,
                sent={"action": "posts_by", "username": alice.username},
                expected=expected_posts,
                got=by_body(data, expected_posts),
                hint="Return PostSerializer(posts, many=True).data: the same fields as every "
                "other reply about posts, not fields of your own choosing.",
            )
            reply = await api.request("posts_by", username="nobody_by_that_name")
            check.expect(
                not_found,
                sent={"action": "posts_by", "username": "nobody_by_that_name"},
                expected={"response_status": 404, "errors": "a non-empty list"},
                got={key: reply.get(key) for key in ("response_status", "errors")},
                ok=reply.get("response_status") == 404 and bool(reply.get("errors")),
                hint="Raise rest_framework.exceptions.NotFound: DCRF turns it into a 404 reply. "
                "An empty list would tell the client that the user exists but never posted.",
            )
            reply = await api.request("posts_by", username=bob.username)
            check.expect(
                still_open,
                sent={"action": "posts_by", "username": bob.username},
                expected=200,
                got=reply.get("response_status"),
                hint="Raise a DRF exception rather than anything else: other errors may close the "
                "connection.",
            )

    return await check.run(scenario)


class CheckerClock:
    """Stands in for `time.monotonic` on the consumer: the check moves it forward
    instead of waiting. An instance, not a function, so that `self.clock()` does
    not pass the consumer as an argument."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# The max_posts_per_minute the check sets on a subclass of the learner's consumer.
CHECK_LIMIT = 2


async def check_rate_limit(consumer_class) -> Verdict:
    """Exercise 2.2: a connection may create `max_posts_per_minute` posts in any 60
    seconds; the next gets 429 and is not stored; the window slides.

    The check runs a subclass of the learner's consumer with its own `clock`, so it
    can move time forward by a minute without waiting one.
    """
    first_ones = f"with max_posts_per_minute = {CHECK_LIMIT}, the first {CHECK_LIMIT} creates succeed (at 0 s and 20 s)"
    refused = "the next create within the minute answers 429 with an error (at 50 s)"
    not_stored = "the refused post is not stored"
    freed = "61 s after the first post, its place is free again: a create succeeds"
    slides = "the window slides: at 62 s the posts of 20 s and 61 s fill the limit, so 429"
    per_connection = "the limit is per connection: another connection may still post"
    check = Check(
        "Exercise 2.2 · a rate limit that answers 429",
        [first_ones, refused, not_stored, freed, slides, per_connection],
    )

    class Timed(consumer_class):
        clock = CheckerClock()
        max_posts_per_minute = CHECK_LIMIT

    async def create(session, at):
        Timed.clock.now = 1000.0 + at
        return await session.request("create", data={"body": f"posted at {at} s"})

    async def scenario():
        from social.models import Post

        async with (
            checker_users("alice") as (alice,),
            sessions(Timed, alice, alice) as (first, second),
        ):
            statuses = [(await create(first, at)).get("response_status") for at in (0, 20)]
            check.expect(
                first_ones,
                sent="create at 0 s, create at 20 s",
                expected=[201, 201],
                got=statuses,
                hint="Only refuse once the connection has created self.max_posts_per_minute posts "
                "in the last 60 seconds.",
            )
            stored = await Post.objects.filter(author=alice).acount()
            reply = await create(first, 50)
            check.expect(
                refused,
                sent={"action": "create", "data": {"body": "posted at 50 s"}},
                expected={"response_status": 429, "errors": "a non-empty list"},
                got={key: reply.get(key) for key in ("response_status", "errors")},
                ok=reply.get("response_status") == 429 and bool(reply.get("errors")),
                hint="Refuse once there are self.max_posts_per_minute posts in the last 60 seconds "
                f"(read the number from the attribute: the check sets it to {CHECK_LIMIT}), and "
                "raise rest_framework.exceptions.Throttled: DCRF turns it into a 429 reply.",
            )
            check.expect(
                not_stored,
                sent="the 429 create above",
                expected=stored,
                got=await Post.objects.filter(author=alice).acount(),
                hint="Refuse before serializer.save() runs: raise in perform_create, before "
                "calling super().perform_create().",
            )
            reply = await create(first, 61)
            check.expect(
                freed,
                sent="create at 61 s",
                expected=201,
                got=reply.get("response_status"),
                hint="Read the time with self.clock() (the check moves it forward), forget the "
                "posts older than 60 seconds, and record a time only for a post you let through.",
            )
            reply = await create(first, 62)
            check.expect(
                slides,
                sent="create at 62 s",
                expected=429,
                got=reply.get("response_status"),
                hint="Keep the time of each recent post and count those of the last 60 seconds: "
                "starting the count afresh every minute lets a burst through.",
            )
            reply = await create(second, 62)
            check.expect(
                per_connection,
                sent="create on a second connection, at 62 s",
                expected=201,
                got=reply.get("response_status"),
                hint="Keep the times on the consumer instance (one per connection), "
                "not on the class.",
            )

    return await check.run(scenario)
