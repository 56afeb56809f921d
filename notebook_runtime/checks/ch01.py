"""Checks for exercises/01-post-model.ipynb: the async ORM."""

import re
import types

from django.core.exceptions import SynchronousOnlyOperation

from .support import checker_users, create_post, queries_of
from .verdict import Check, Verdict

NEWEST_FIRST_SQL = re.compile(
    r'ORDER BY "social_post"\."created_at" DESC, "social_post"\."id" DESC'
)
ORDER_BY_SQL = re.compile(r"ORDER BY .*?(?= LIMIT|$)")
SYNC_BRIDGES = {"sync_to_async", "database_sync_to_async", "run_sync"}


def names_used(function) -> set[str]:
    """The global, attribute and outer-scope names `function`'s code mentions,
    nested code (comprehensions, inner functions) included."""
    code = getattr(function, "__code__", None)
    codes, names = [code] if code else [], set()
    while codes:
        code = codes.pop()
        names.update(code.co_names, code.co_freevars)
        codes += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return names


def shortened(sql: str, width: int = 70) -> str:
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def bodies(n: int) -> str:
    return f"{n} bod{'ies' if n > 1 else 'y'}"


async def check_newest_bodies(newest_bodies) -> Verdict:
    """Exercise 1.1: `await newest_bodies(n)` returns the n newest bodies, newest first."""
    shape = "newest_bodies is an async function that returns a list of strings"
    order = (
        "it orders by -created_at, then -pk (a stable order for posts saved in the same instant)"
    )
    async_orm = "it reads the posts with the async ORM, not sync_to_async"
    check = Check(
        "Exercise 1.1 · the newest posts",
        [
            shape,
            *(f"newest_bodies({n}) returns the newest {bodies(n)}, newest first" for n in (2, 1)),
            order,
            async_orm,
        ],
        raised_hints={
            SynchronousOnlyOperation: "Define newest_bodies with `async def`, and read the posts "
            "with the async ORM: `[post.body async for post in ...]`."
        },
    )

    async def scenario():
        from social.models import Post

        async with checker_users("alice") as (alice,):
            for body in ["first", "second", "third"]:
                await create_post(alice, f"checker post: {body}")
            got = newest_bodies(2)
            if not hasattr(got, "__await__"):
                check.fail(
                    shape,
                    sent="newest_bodies(2)",
                    expected="a coroutine to await",
                    got=f"{type(got).__name__} {got!r}",
                    hint="Define it with `async def`, and use the async ORM inside.",
                )
                return
            got = await got
            if not (isinstance(got, list) and all(isinstance(body, str) for body in got)):
                check.fail(
                    shape,
                    sent="await newest_bodies(2)",
                    expected="a list of strings",
                    got=f"{type(got).__name__} {got!r}",
                    hint="Collect each post's body (a string), in a list: "
                    "`[post.body async for post in ...]`.",
                )
                return
            check.right(shape)

            newest = Post.objects.order_by("-created_at", "-pk")
            for n in (2, 1):
                check.expect(
                    f"newest_bodies({n}) returns the newest {bodies(n)}, newest first",
                    sent=f"await newest_bodies({n})",
                    expected=[post.body async for post in newest[:n]],
                    got=await newest_bodies(n),
                    hint="Order by -created_at (then -pk), slice [:n], and collect "
                    "the bodies with `async for` into a list.",
                )

            # SQLite breaks ties the same way through the index, so look at the query.
            _, queries = await queries_of(newest_bodies, 2)
            order_by = [match[0] for sql in queries if (match := ORDER_BY_SQL.search(sql))]
            check.expect(
                order,
                sent="await newest_bodies(2), reading the SQL it runs",
                expected='ORDER BY "social_post"."created_at" DESC, "social_post"."id" DESC',
                got="; ".join(order_by) or "no ORDER BY in its queries",
                ok=any(NEWEST_FIRST_SQL.search(sql) for sql in queries),
                hint='Write .order_by("-created_at", "-pk"): with -created_at alone, two posts '
                "saved in the same instant may come in either order.",
            )
            used = sorted(names_used(newest_bodies) & SYNC_BRIDGES)
            check.expect(
                async_orm,
                sent="the names newest_bodies uses",
                expected="no sync_to_async",
                got=used or "no sync_to_async",
                ok=not used,
                hint="Iterate the queryset with `async for` inside a list comprehension: "
                "`[post.body async for post in queryset]`; no thread needed.",
            )

    return await check.run(scenario)


async def check_count_posts_by(count_posts_by) -> Verdict:
    """Exercise 1.2: `await count_posts_by(username)` counts that user's posts."""
    shape = "count_posts_by is an async function"
    counts = [f"counts the posts of a user with {n} post(s)" for n in (2, 1)]
    nobody = "answers 0 for a user who does not exist"
    one_query = "it counts in the database: one COUNT query, no loop"
    check = Check(
        "Exercise 1.2 · counting a user's posts",
        [shape, *counts, nobody, one_query],
        raised_hints={
            SynchronousOnlyOperation: "Define count_posts_by with `async def`, and count with "
            "the async ORM: `await ....acount()`."
        },
    )

    async def scenario():
        async with checker_users("alice", "bob") as (alice, bob):
            await create_post(alice, "one")
            await create_post(alice, "two")
            await create_post(bob, "three")
            got = count_posts_by(alice.username)
            if not hasattr(got, "__await__"):
                check.fail(
                    shape,
                    sent=f"count_posts_by({alice.username!r})",
                    expected="a coroutine to await",
                    got=f"{type(got).__name__} {got!r}",
                    hint="Define it with `async def`, and count with `await ....acount()`.",
                )
                return
            await got
            check.right(shape)
            for user, expected, behaviour in ((alice, 2, counts[0]), (bob, 1, counts[1])):
                check.expect(
                    behaviour,
                    sent=f"await count_posts_by({user.username!r})",
                    expected=expected,
                    got=await count_posts_by(user.username),
                    hint="Filter on author__username and use the async count: .acount().",
                )
            check.expect(
                nobody,
                sent="await count_posts_by('checker-nobody')",
                expected=0,
                got=await count_posts_by("checker-nobody"),
                hint="A filter that matches nothing counts 0; no need to look the user up.",
            )
            _, queries = await queries_of(count_posts_by, alice.username)
            check.expect(
                one_query,
                sent=f"await count_posts_by({alice.username!r}), reading the SQL it runs",
                expected="1 query: SELECT COUNT(*) …",
                got=f"{len(queries)} quer{'y' if len(queries) == 1 else 'ies'}: "
                + "; ".join(shortened(sql) for sql in queries),
                ok=len(queries) == 1 and "COUNT(" in queries[0],
                hint="Let the database count: Post.objects.filter(author__username=username)"
                ".acount(), with no user lookup first and no loop over the posts.",
            )

    return await check.run(scenario)
