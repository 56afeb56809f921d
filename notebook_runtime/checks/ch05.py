"""Checks for exercises/05-event-serializer.ipynb: the event serializer, @mentions."""

from channels_redis.core import RedisChannelLayer
from djangochannelsrestframework.observer.model_observer import Action

from social.hashtags import hashtags_in, parse_hashtag

from .support import (
    NOTHING_ARRIVED,
    action_and_pk,
    checker_users,
    create_post,
    events_until,
    expect_group_names,
    group_names_behaviour,
    next_event,
    probe_consumer,
    queries_to_load_a_post,
    sessions,
)
from .verdict import Check, Verdict


def hashtag_signal_groups(instance):
    for tag in sorted(hashtags_in(instance.body)):
        yield f"-hashtag-{tag}"


def hashtag_consumer_groups(hashtag):
    yield f"-hashtag-{parse_hashtag(hashtag)}"


async def check_event_serializer(serializer) -> Verdict:
    """Exercise 5.1: events carry the body; deletes carry only the pk."""
    shape = "event_serializer returns a dict for create, update and delete"
    plain = "the event is plain data that can cross a Redis channel layer (msgpack)"
    created = "a create event carries the body"
    updated = "an update event carries the new body"
    deleted = "a delete event carries only the pk"
    check = Check("Exercise 5.1 · the body in the event", [shape, plain, created, updated, deleted])

    async def scenario():
        from social.models import Post

        async with checker_users("alice") as (alice,):
            post = await create_post(alice, "plain data")
            fresh = await Post.objects.aget(pk=post.pk)
            messages = {action: serializer(fresh, action) for action in Action}
            not_dicts = {action: m for action, m in messages.items() if not isinstance(m, dict)}
            if not_dicts:
                action, message = next(iter(not_dicts.items()))
                check.fail(
                    shape,
                    sent=f"{serializer.__name__}(<a post>, Action.{action.name})",
                    expected='a dict, such as {"pk": 1, "data": {"body": "..."}}',
                    got=f"{type(message).__name__} {message!r}",
                    hint="Return the dict itself, not JSON text (no json.dumps): the consumer "
                    'adds "action" to it and sends it as JSON.',
                )
                return
            check.right(shape)
            layer = RedisChannelLayer()
            try:
                crossed = all(layer.deserialize(layer.serialize(m)) == m for m in messages.values())
                problem = None
            except (TypeError, ValueError) as error:
                crossed, problem = False, f"{type(error).__name__}: {error}"
            check.expect(
                plain,
                sent="your serializer's output, packed as channels_redis packs it",
                expected="packed and unpacked unchanged",
                got="packed and unpacked unchanged" if crossed else problem or "changed in transit",
                hint="Return only dicts, lists, strings, numbers, booleans and None: no "
                "datetimes, model instances or lazy translation strings.",
            )
            if not crossed:
                return  # the events below could not even be sent
            await post.adelete()

            with probe_consumer(
                hashtag_signal_groups, hashtag_consumer_groups, serializer
            ) as probe:
                async with sessions(probe, None) as (bob,):
                    await bob.request("subscribe", hashtag="python")
                    post = await create_post(alice, "Hello #python")
                    check.expect(
                        created,
                        sent='a post "Hello #python"',
                        expected={
                            "action": "create",
                            "pk": post.pk,
                            "data": {"body": "Hello #python"},
                        },
                        got=await next_event(bob),
                        hint='Return {"pk": instance.pk, "data": {"body": instance.body}}.',
                    )
                    post.body = "Edited #python"
                    await post.asave()
                    check.expect(
                        updated,
                        sent='the post edited to "Edited #python"',
                        expected={
                            "action": "update",
                            "pk": post.pk,
                            "data": {"body": "Edited #python"},
                        },
                        got=await next_event(bob),
                        hint="The same shape as for create.",
                    )
                    pk = post.pk
                    await post.adelete()
                    check.expect(
                        deleted,
                        sent="the post deleted",
                        expected={"action": "delete", "pk": pk},
                        got=await next_event(bob),
                        hint="`action` is DCRF's Action enum: compare with `action is Action.DELETE`; "
                        "`action == 'delete'` is always False.",
                    )

    return await check.run(scenario)


async def check_mentions(groups_for_signal, groups_for_consumer) -> Verdict:
    """Exercise 5.2: a post that mentions @someone reaches that user only, on every
    connection of theirs; usernames compare without case; no query per post."""
    shape = group_names_behaviour(groups_for_signal, groups_for_consumer)
    mentioned = "the mentioned user receives the post on each of their connections (@checker_Bob reaches checker_bob)"
    others = "a user who is not mentioned receives nothing"
    capitals = "a user whose username has capitals (checker_Alice) receives @checker_alice"
    no_query = f"{groups_for_signal.__name__} makes no database query"
    check = Check(
        "Exercise 5.2 · @mentions for the mentioned only",
        [shape, mentioned, others, capitals, no_query],
    )

    async def scenario():
        from social.models import Post

        async with checker_users("Alice", "bob", "carol") as (alice, bob, carol):
            sample = Post(author=carol, body="Hi @checker_Bob")
            calls = [
                (groups_for_signal, '<a post "Hi @checker_Bob">', (sample,), {}),
                (groups_for_consumer, "<the user checker_bob>", (bob,), {}),
            ]
            if not await expect_group_names(check, shape, calls):
                return
            with probe_consumer(groups_for_signal, groups_for_consumer, as_user=True) as probe:
                async with sessions(probe, alice, bob, bob) as (as_alice, as_bob, as_bob_elsewhere):
                    for session in (as_alice, as_bob, as_bob_elsewhere):
                        await session.request("subscribe")
                    post = await create_post(carol, "Hi @checker_Bob, see this")
                    got = [action_and_pk(await next_event(s)) for s in (as_bob, as_bob_elsewhere)]
                    check.expect(
                        mentioned,
                        sent='carol posts "Hi @checker_Bob, see this"; bob has two connections',
                        expected=[{"action": "create", "pk": post.pk}] * 2,
                        got=got,
                        hint="Yield a group per @name in the body (lower-cased), and the same name "
                        "for the connection's user in groups_for_consumer.",
                    )
                    ping = await create_post(carol, "@checker_alice ping")
                    sentinel = await create_post(carol, "@checker_bob again")
                    check.expect(
                        others,
                        sent='"@checker_alice ping", then "@checker_bob again": what bob receives first',
                        expected={"action": "create", "pk": sentinel.pk},
                        got=action_and_pk(await next_event(as_bob)),
                        hint="Only the mentioned users' groups: no group every user joins.",
                    )
                    before = await events_until(as_alice, ping.pk)
                    check.expect(
                        capitals,
                        sent='"@checker_alice ping", to alice, whose username is checker_Alice',
                        expected={"action": "create", "pk": ping.pk},
                        got=NOTHING_ARRIVED
                        if before == NOTHING_ARRIVED
                        else {"action": "create", "pk": ping.pk},
                        hint="Lower-case both sides: the names found in the body, and user.username in "
                        "groups_for_consumer (str.casefold() is the Unicode way).",
                    )
                    check.expect(
                        no_query,
                        sent="Post.objects.get(pk=...), which runs groups_for_signal: queries made",
                        expected=1,
                        got=await queries_to_load_a_post(post),
                        hint="The names are in the body: take them from there, without looking the "
                        "users up. This runs for every Post saved or loaded.",
                    )

    return await check.run(scenario)
