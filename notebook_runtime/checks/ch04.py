"""Checks for exercises/04-hashtags.ipynb: groups for hashtags, the list, authors."""
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .support import (
    action_and_pk,
    checker_users,
    create_post,
    events_until_sentinel,
    next_event,
    probe_consumer,
    sessions,
)
from .verdict import Verdict, run


def create_event(post):
    return {"action": "create", "pk": post.pk}


async def check_hashtag_groups(groups_for_signal, groups_for_consumer) -> Verdict:
    """Exercise 4.1: the two group functions meet, with the project's hashtag rule."""

    async def scenario(check):
        with probe_consumer(groups_for_signal, groups_for_consumer) as probe:
            async with checker_users("alice") as (alice,), sessions(probe, None) as (bob,):
                await bob.request("subscribe", hashtag="python")
                post = await create_post(alice, "Hello #Python")
                event = await next_event(bob)
                check.expect(
                    'a subscriber to "python" receives a post with #Python',
                    sent='subscribe hashtag="python", then a post "Hello #Python"',
                    expected=create_event(post),
                    got=action_and_pk(event),
                    hint="groups_for_signal must yield, for each tag in the body, exactly the "
                    "name groups_for_consumer yields for that tag (compare them lower-cased "
                    "with hashtags_in and parse_hashtag).",
                )
                await create_post(alice, "Only #django here")
                sentinel = await create_post(alice, "again #python")
                event = await next_event(bob)
                check.expect(
                    "a post without the tag sends that subscriber nothing",
                    sent='a post "Only #django here", then one with #python',
                    expected=create_event(sentinel),
                    got=action_and_pk(event),
                    hint="Yield one group per hashtag in the post, not a group every post shares.",
                )
                await bob.request("subscribe", hashtag="#Café")
                post = await create_post(alice, "un #café")
                event = await next_event(bob)
                check.expect(
                    'a subscriber to "#Café" receives a post with #café',
                    sent='subscribe hashtag="#Café", then a post "un #café"',
                    expected=create_event(post),
                    got=action_and_pk(event),
                    hint="Accept the tag with or without '#', and use the Unicode rule: "
                    "hashtags_in(body) and parse_hashtag(tag) from social.hashtags.",
                )

    return await run("Exercise 4.1 · hashtag groups that meet", scenario)


async def check_follow_list(consumer_class) -> Verdict:
    """Exercise 4.2: subscribe_to_list / unsubscribe_from_list."""

    async def scenario(check):
        async with checker_users("alice") as (alice,), sessions(
            consumer_class, None, None
        ) as (watcher, quitter):
            reply = await watcher.request("subscribe_to_list")
            check.expect(
                "subscribe_to_list answers 201 with {}",
                sent={"action": "subscribe_to_list"},
                expected=[201, {}],
                got=[reply.get("response_status"), reply.get("data")],
                hint="Return {}, 201 from the action.",
            )
            post = await create_post(alice, "no hashtag at all")
            event = await next_event(watcher)
            check.expect(
                "after subscribe_to_list, a post without hashtags arrives",
                sent='a post "no hashtag at all"',
                expected=create_event(post),
                got=action_and_pk(event),
                hint="Subscribe with all_posts=True, so the consumer joins the '-all' group "
                "that groups_for_signal yields for every post.",
            )
            # Unsubscribe before any event arrives: DCRF's bookkeeping differs after one.
            await quitter.request("subscribe_to_list")
            reply = await quitter.request("unsubscribe_from_list")
            check.expect(
                "unsubscribe_from_list answers 204",
                sent={"action": "unsubscribe_from_list"},
                expected=204,
                got=reply.get("response_status"),
                hint="Return {}, 204 from the action.",
            )
            await create_post(alice, "after unsubscribing")
            before = await events_until_sentinel(quitter, alice)
            check.expect(
                "after unsubscribe_from_list, no more posts arrive",
                sent='subscribe_to_list, unsubscribe_from_list, then a post "after unsubscribing"',
                expected=[],
                got=before,
                hint="DCRF leaves a group on unsubscribe only if it recorded the subscription "
                "under a request_id: subscribe with request_id=..., and unsubscribe with "
                "all_posts=True.",
            )

    return await run("Exercise 4.2 · following every post", scenario)


async def check_author_groups(groups_for_signal, groups_for_consumer) -> Verdict:
    """Exercise 4.3: follow one author's posts, with no query in groups_for_signal."""

    async def scenario(check):
        from social.models import Post

        with probe_consumer(groups_for_signal, groups_for_consumer) as probe:
            async with checker_users("alice", "bob") as (alice, bob), sessions(probe, None) as (
                watcher,
            ):
                await watcher.request("subscribe", author_id=alice.pk)
                await create_post(bob, "bob writes")
                post = await create_post(alice, "alice writes")
                event = await next_event(watcher)
                check.expect(
                    "a follower of alice receives alice's post, and not bob's before it",
                    sent="subscribe author_id=<alice>, then a post by bob, then one by alice",
                    expected=create_event(post),
                    got=action_and_pk(event),
                    hint="Yield a group named after instance.author_id; the consumer side "
                    "yields the same name for the author_id it is given.",
                )

                def queries_to_load_a_post():
                    # Loading a post runs groups_for_signal (on post_init): one query
                    # for the post itself, and there should be no other.
                    with CaptureQueriesContext(connection) as queries:
                        Post.objects.get(pk=post.pk)
                    return len(queries)

                check.expect(
                    "groups_for_signal makes no database query",
                    sent="Post.objects.get(pk=...), which runs groups_for_signal",
                    expected=1,
                    got=await sync_to_async(queries_to_load_a_post)(),
                    hint="Use instance.author_id (already on the row), not instance.author, "
                    "which loads the user: this runs for every Post saved or loaded.",
                )

    return await run("Exercise 4.3 · following one author", scenario)

