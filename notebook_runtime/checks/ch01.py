"""Checks for exercises/01-post-model.ipynb: the async ORM."""
from .support import checker_users, create_post
from .verdict import Verdict, run


async def check_newest_bodies(newest_bodies) -> Verdict:
    """Exercise 1.1: `await newest_bodies(n)` returns the n newest bodies, newest first."""

    async def scenario(check):
        from social.models import Post

        async with checker_users("alice") as (alice,):
            for body in ["first", "second", "third"]:
                await create_post(alice, f"checker post: {body}")
            newest = Post.objects.order_by("-created_at", "-pk")
            for n in (2, 1):
                expected = [post.body async for post in newest[:n]]
                got = newest_bodies(n)
                if not hasattr(got, "__await__"):
                    check.fail(
                        "newest_bodies is an async function",
                        sent=f"newest_bodies({n})",
                        expected="a coroutine to await",
                        got=type(got).__name__,
                        hint="Define it with `async def`, and use the async ORM inside.",
                    )
                    return
                got = await got
                check.expect(
                    f"newest_bodies({n}) returns the newest {n} bod{'ies' if n > 1 else 'y'}, newest first",
                    sent=f"await newest_bodies({n})",
                    expected=expected,
                    got=got if isinstance(got, list) else repr(got),
                    hint="Order by -created_at (then -pk), slice [:n], and collect "
                    "the bodies with `async for` into a list.",
                )

    return await run("Exercise 1.1 · the newest posts", scenario)


async def check_count_posts_by(count_posts_by) -> Verdict:
    """Exercise 1.2: `await count_posts_by(username)` counts that user's posts."""

    async def scenario(check):
        async with checker_users("alice", "bob") as (alice, bob):
            await create_post(alice, "one")
            await create_post(alice, "two")
            await create_post(bob, "three")
            for user, expected in ((alice, 2), (bob, 1)):
                got = await count_posts_by(user.username)
                check.expect(
                    f"counts the posts of a user with {expected} post(s)",
                    sent=f"await count_posts_by({user.username!r})",
                    expected=expected,
                    got=got,
                    hint="Filter on author__username and use the async count: .acount().",
                )
            got = await count_posts_by("checker-nobody")
            check.expect(
                "answers 0 for a user who does not exist",
                sent="await count_posts_by('checker-nobody')",
                expected=0,
                got=got,
                hint="A filter that matches nothing counts 0; no need to look the user up.",
            )

    return await run("Exercise 1.2 · counting a user's posts", scenario)
