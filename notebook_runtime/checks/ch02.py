"""Checks for exercises/02-websocket-api.ipynb: a custom action, and a rate limit."""
from .support import checker_users, create_post, sessions
from .verdict import Verdict, run

async def check_posts_by(consumer_class) -> Verdict:
    """Exercise 2.1: a `posts_by` action: one author's posts, newest first; 404 for
    a user who does not exist, and the connection still answers afterwards."""

    async def scenario(check):
        async with checker_users("alice", "bob") as (alice, bob), sessions(consumer_class, None) as (api,):
            older = await create_post(alice, "Alice's first post")
            await create_post(bob, "Bob was here")
            newer = await create_post(alice, "Alice again")
            reply = await api.request("posts_by", username=alice.username)
            check.expect(
                "posts_by returns that author's posts only, newest first",
                sent={"action": "posts_by", "username": alice.username},
                expected={"response_status": 200, "bodies": [newer.body, older.body]},
                got={
                    "response_status": reply.get("response_status"),
                    "bodies": [post.get("body") for post in reply.get("data") or [] if isinstance(post, dict)],
                },
                hint="Filter the posts by author, order them by -created_at then -pk, and return "
                "(PostSerializer(posts, many=True).data, 200).",
            )
            reply = await api.request("posts_by", username="nobody_by_that_name")
            check.expect(
                "a user who does not exist answers 404 with an error",
                sent={"action": "posts_by", "username": "nobody_by_that_name"},
                expected={"response_status": 404, "errors": "a non-empty list"},
                got={key: reply.get(key) for key in ("response_status", "errors")},
                ok=reply.get("response_status") == 404 and bool(reply.get("errors")),
                hint="Raise rest_framework.exceptions.NotFound: DCRF turns it into a 404 reply. "
                "An empty list would tell the client that the user exists but never posted.",
            )
            reply = await api.request("posts_by", username=bob.username)
            check.expect(
                "the connection still answers after the 404",
                sent={"action": "posts_by", "username": bob.username},
                expected=200,
                got=reply.get("response_status"),
                hint="Raise a DRF exception rather than anything else: other errors may close the "
                "connection.",
            )

    return await run("Exercise 2.1 · a posts_by action", scenario)


async def check_rate_limit(consumer_class, limit: int = 3) -> Verdict:
    """Exercise 2.2: a connection may create `limit` posts a minute; then 429."""

    async def scenario(check):
        from social.models import Post

        async with checker_users("alice") as (alice,), sessions(
            consumer_class, alice, alice
        ) as (first, second):
            statuses = []
            for n in range(limit):
                reply = await first.request("create", data={"body": f"post {n}"})
                statuses.append(reply.get("response_status"))
            check.expect(
                f"the first {limit} creates on a connection succeed",
                sent=f"{limit} x create",
                expected=[201] * limit,
                got=statuses,
                hint="Only refuse once the connection has created `max_posts_per_minute` posts.",
            )
            stored = await Post.objects.filter(author=alice).acount()
            reply = await first.request("create", data={"body": "one too many"})
            check.expect(
                "the next create within the minute answers 429 with an error",
                sent={"action": "create", "data": {"body": "one too many"}},
                expected={"response_status": 429, "errors": "a non-empty list"},
                got={key: reply.get(key) for key in ("response_status", "errors")},
                ok=reply.get("response_status") == 429 and bool(reply.get("errors")),
                hint="Raise rest_framework.exceptions.Throttled: DCRF turns it into a 429 reply.",
            )
            check.expect(
                "the refused post is not stored",
                sent="the 429 create above",
                expected=stored,
                got=await Post.objects.filter(author=alice).acount(),
                hint="Refuse before serializer.save() runs, in perform_create.",
            )
            reply = await second.request("create", data={"body": "another connection"})
            check.expect(
                "the limit is per connection: another connection may still post",
                sent="create on a second connection",
                expected=201,
                got=reply.get("response_status"),
                hint="Keep the timestamps on the consumer instance (one per connection), "
                "not on the class.",
            )

    return await run("Exercise 2.2 · a rate limit that answers 429", scenario)
