"""Checks for exercises/04-hashtags.ipynb: groups for hashtags, the list, authors."""

from .support import (
    action_and_pk,
    checker_users,
    create_post,
    events_until_sentinel,
    expect_group_names,
    group_names_behaviour,
    next_event,
    probe_consumer,
    queries_to_load_a_post,
    sessions,
)
from .verdict import Check, Verdict


def create_event(post):
    return {"action": "create", "pk": post.pk}


async def check_hashtag_groups(groups_for_signal, groups_for_consumer) -> Verdict:
    """Exercise 4.1: the two group functions meet, with the project's hashtag rule."""
    shape = group_names_behaviour(groups_for_signal, groups_for_consumer)
    receives = 'a subscriber to "python" receives a post with #Python'
    nothing_else = "a post without the tag sends that subscriber nothing"
    every_tag = "a post with two hashtags reaches the subscriber of the second one too"
    unicode_rule = 'a subscriber to "#Café" receives a post with #café'
    check = Check(
        "Exercise 4.1 · hashtag groups that meet",
        [shape, receives, nothing_else, every_tag, unicode_rule],
    )

    async def scenario():
        from social.models import Post

        async with checker_users("alice") as (alice,):
            sample = Post(author=alice, body="Hello #Python")
            calls = [
                (groups_for_signal, '<a post "Hello #Python">', (sample,), {}),
                (groups_for_consumer, 'hashtag="python"', (), {"hashtag": "python"}),
            ]
            if not await expect_group_names(check, shape, calls):
                return
            with probe_consumer(groups_for_signal, groups_for_consumer) as probe:
                async with sessions(probe, None) as (bob,):
                    await bob.request("subscribe", hashtag="python")
                    post = await create_post(alice, "Hello #Python")
                    check.expect(
                        receives,
                        sent='subscribe hashtag="python", then a post "Hello #Python"',
                        expected=create_event(post),
                        got=action_and_pk(await next_event(bob)),
                        hint="groups_for_signal must yield, for each tag in the body, exactly the "
                        "name groups_for_consumer yields for that tag (compare them lower-cased "
                        "with hashtags_in and parse_hashtag).",
                    )
                    await create_post(alice, "Only #django here")
                    sentinel = await create_post(alice, "again #python")
                    check.expect(
                        nothing_else,
                        sent='a post "Only #django here", then one with #python',
                        expected=create_event(sentinel),
                        got=action_and_pk(await next_event(bob)),
                        hint="Yield one group per hashtag in the post, not a group every post shares.",
                    )
                    post = await create_post(alice, "Learning #Django with #python")
                    check.expect(
                        every_tag,
                        sent='a post "Learning #Django with #python"',
                        expected=create_event(post),
                        got=action_and_pk(await next_event(bob)),
                        hint="Yield a group for every tag in the body (loop over hashtags_in(body)), "
                        "not only the first one found.",
                    )
                    await bob.request("subscribe", hashtag="#Café")
                    post = await create_post(alice, "un #café")
                    check.expect(
                        unicode_rule,
                        sent='subscribe hashtag="#Café", then a post "un #café"',
                        expected=create_event(post),
                        got=action_and_pk(await next_event(bob)),
                        hint="Accept the tag with or without '#', and use the Unicode rule: "
                        "hashtags_in(body) and parse_hashtag(tag) from social.hashtags.",
                    )

    return await check.run(scenario)


async def check_follow_list(consumer_class) -> Verdict:
    """Exercise 4.2: subscribe_to_list / unsubscribe_from_list."""
    subscribed = "subscribe_to_list answers 201 with {}"
    arrives = "after subscribe_to_list, a post without hashtags arrives"
    unsubscribed = "unsubscribe_from_list answers 204"
    no_more = "after unsubscribe_from_list, no more posts arrive"
    check = Check(
        "Exercise 4.2 · following every post", [subscribed, arrives, unsubscribed, no_more]
    )

    async def scenario():
        async with (
            checker_users("alice") as (alice,),
            sessions(consumer_class, None, None) as (watcher, quitter),
        ):
            reply = await watcher.request("subscribe_to_list")
            check.expect(
                subscribed,
                sent={"action": "subscribe_to_list"},
                expected=[201, {}],
                got=[reply.get("response_status"), reply.get("data")],
                hint="Return {}, 201 from the action.",
            )
            post = await create_post(alice, "no hashtag at all")
            check.expect(
                arrives,
                sent='a post "no hashtag at all"',
                expected=create_event(post),
                got=action_and_pk(await next_event(watcher)),
                hint="Subscribe with all_posts=True, so the consumer joins the '-all' group "
                "that groups_for_signal yields for every post.",
            )
            # Unsubscribe before any event arrives: DCRF's bookkeeping differs after one.
            await quitter.request("subscribe_to_list")
            reply = await quitter.request("unsubscribe_from_list")
            check.expect(
                unsubscribed,
                sent={"action": "unsubscribe_from_list"},
                expected=204,
                got=reply.get("response_status"),
                hint="Return {}, 204 from the action.",
            )
            await create_post(alice, "after unsubscribing")
            check.expect(
                no_more,
                sent='subscribe_to_list, unsubscribe_from_list, then a post "after unsubscribing"',
                expected=[],
                got=await events_until_sentinel(quitter, alice),
                hint="DCRF leaves a group on unsubscribe only if it recorded the subscription "
                "under a request_id: subscribe with request_id=..., and unsubscribe with "
                "all_posts=True.",
            )

    return await check.run(scenario)


async def check_author_groups(groups_for_signal, groups_for_consumer) -> Verdict:
    """Exercise 4.3: follow one author's posts, with no query in groups_for_signal."""
    shape = group_names_behaviour(groups_for_signal, groups_for_consumer)
    follows = "a follower of alice receives alice's post, and not bob's before it"
    no_query = f"{groups_for_signal.__name__} makes no database query"
    check = Check("Exercise 4.3 · following one author", [shape, follows, no_query])

    async def scenario():
        from social.models import Post

        async with checker_users("alice", "bob") as (alice, bob):
            sample = Post(author=alice, body="a post by alice")
            calls = [
                (groups_for_signal, "<a post by alice>", (sample,), {}),
                (groups_for_consumer, "author_id=<alice's id>", (), {"author_id": alice.pk}),
            ]
            if not await expect_group_names(check, shape, calls):
                return
            with probe_consumer(groups_for_signal, groups_for_consumer) as probe:
                async with sessions(probe, None) as (watcher,):
                    await watcher.request("subscribe", author_id=alice.pk)
                    await create_post(bob, "bob writes")
                    post = await create_post(alice, "alice writes")
                    check.expect(
                        follows,
                        sent="subscribe author_id=<alice>, then a post by bob, then one by alice",
                        expected=create_event(post),
                        got=action_and_pk(await next_event(watcher)),
                        hint="Yield a group named after instance.author_id; the consumer side "
                        "yields the same name for the author_id it is given.",
                    )
                    check.expect(
                        no_query,
                        sent="Post.objects.get(pk=...), which runs groups_for_signal: queries made",
                        expected=1,
                        got=await queries_to_load_a_post(post),
                        hint="Use instance.author_id (already on the row), not instance.author, "
                        "which loads the user: this runs for every Post saved or loaded.",
                    )

    return await check.run(scenario)
