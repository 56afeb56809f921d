"""Checks for exercises/02-websocket-api.ipynb: filtering the list, and a rate limit."""
from .support import checker_users, create_post, sessions
from .verdict import Verdict, run

LIST_LIMIT = 500


async def check_list_filter(consumer_class) -> Verdict:
    """Exercise 2.1: filter_queryset gives body_contains, newest first, at most 500."""

    async def scenario(check):
        from social.models import Post

        async with checker_users("alice") as (alice,), sessions(consumer_class, alice) as (api,):
            older = await create_post(alice, "Learning #Python today")
            newer = await create_post(alice, "More PYTHON tricks")
            await create_post(alice, "Tea time")
            reply = await api.request("list", body_contains="python")
            bodies = [post.get("body") for post in reply.get("data") or []]
            check.expect(
                "list with body_contains returns matching posts, ignoring case, newest first",
                sent={"action": "list", "body_contains": "python"},
                expected=[newer.body, older.body],
                got=bodies if reply.get("response_status") == 200 else reply,
                hint="Filter with body__icontains, and order by -created_at then -pk.",
            )
            reply = await api.request("list")
            got = [post.get("pk") for post in reply.get("data") or []][:3]
            newest = [pk async for pk in Post.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)[:3]]
            check.expect(
                "list without body_contains returns every post, newest first",
                sent={"action": "list"},
                expected=newest,
                got=got,
                hint="Only filter when body_contains was sent; always order newest first.",
            )
            await Post.objects.abulk_create(
                Post(author=alice, body=f"bulk {n}") for n in range(LIST_LIMIT + 1)
            )
            reply = await api.request("list")
            check.expect(
                "list returns at most the 500 newest posts",
                sent={"action": "list"},
                expected=LIST_LIMIT,
                got=len(reply.get("data") or []),
                hint="Slice the ordered queryset: [:500].",
            )
            reply = await api.request("retrieve", pk=older.pk)
            check.expect(
                "retrieve still finds a post (the filter applies to list only)",
                sent={"action": "retrieve", "pk": "<a post's pk>"},
                expected=200,
                got=reply.get("response_status"),
                hint="For other actions, return the queryset unchanged: a sliced "
                "queryset cannot be filtered by pk.",
            )

    return await run("Exercise 2.1 · body_contains and the 500 newest", scenario)


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
