"""Checks for exercises/05-event-serializer.ipynb: the event serializer, @mentions."""
from channels_redis.core import RedisChannelLayer
from djangochannelsrestframework.observer.model_observer import Action

from social.hashtags import hashtags_in, parse_hashtag

from .support import (
    action_and_pk,
    checker_users,
    create_post,
    next_event,
    probe_consumer,
    sessions,
)
from .verdict import Verdict, run


def hashtag_signal_groups(instance):
    for tag in sorted(hashtags_in(instance.body)):
        yield f"-hashtag-{tag}"


def hashtag_consumer_groups(hashtag):
    yield f"-hashtag-{parse_hashtag(hashtag)}"


async def check_event_serializer(serializer) -> Verdict:
    """Exercise 5.1: events carry the body; deletes carry only the pk."""

    async def scenario(check):
        from social.models import Post

        with probe_consumer(hashtag_signal_groups, hashtag_consumer_groups, serializer) as probe:
            async with checker_users("alice") as (alice,), sessions(probe, None) as (bob,):
                post = await create_post(alice, "plain data")
                fresh = await Post.objects.aget(pk=post.pk)
                layer = RedisChannelLayer()
                messages = [serializer(fresh, action) for action in Action]
                try:
                    crossed = all(layer.deserialize(layer.serialize(m)) == m for m in messages)
                    problem = None
                except (TypeError, ValueError) as error:
                    crossed, problem = False, f"{type(error).__name__}: {error}"
                check.expect(
                    "the event is plain data that can cross a Redis channel layer (msgpack)",
                    sent="your serializer's output, packed as channels_redis packs it",
                    expected="packed and unpacked unchanged",
                    got="packed and unpacked unchanged" if crossed else problem or "changed in transit",
                    hint="Return only dicts, lists, strings, numbers, booleans and None: no "
                    "datetimes, model instances or lazy translation strings.",
                )
                if not crossed:
                    return  # the events below could not even be sent
                await post.adelete()

                await bob.request("subscribe", hashtag="python")
                post = await create_post(alice, "Hello #python")
                check.expect(
                    "a create event carries the body",
                    sent='a post "Hello #python"',
                    expected={"action": "create", "pk": post.pk, "data": {"body": "Hello #python"}},
                    got=await next_event(bob),
                    hint='Return {"pk": instance.pk, "data": {"body": instance.body}}.',
                )
                post.body = "Edited #python"
                await post.asave()
                check.expect(
                    "an update event carries the new body",
                    sent='the post edited to "Edited #python"',
                    expected={"action": "update", "pk": post.pk, "data": {"body": "Edited #python"}},
                    got=await next_event(bob),
                    hint="The same shape as for create.",
                )
                pk = post.pk
                await post.adelete()
                check.expect(
                    "a delete event carries only the pk",
                    sent="the post deleted",
                    expected={"action": "delete", "pk": pk},
                    got=await next_event(bob),
                    hint="`action` is DCRF's Action enum: compare with `action is Action.DELETE`; "
                    "`action == 'delete'` is always False.",
                )
    return await run("Exercise 5.1 · the body in the event", scenario)


async def check_mentions(groups_for_signal, groups_for_consumer) -> Verdict:
    """Exercise 5.2: a post that mentions @someone reaches that user only."""

    async def scenario(check):
        with probe_consumer(groups_for_signal, groups_for_consumer, as_user=True) as probe:
            async with checker_users("alice", "bob", "carol") as (alice, bob, carol), sessions(
                probe, alice, bob
            ) as (as_alice, as_bob):
                for session in (as_alice, as_bob):
                    await session.request("subscribe")
                post = await create_post(carol, "Hi @checker_Bob, see this")
                event = await next_event(as_bob)
                check.expect(
                    "the mentioned user receives the post (usernames compare without case)",
                    sent='carol posts "Hi @checker_Bob, see this"',
                    expected={"action": "create", "pk": post.pk},
                    got=action_and_pk(event),
                    hint="Yield a group per @name in the body (lower-cased), and the same name "
                    "for the connection's user in groups_for_consumer.",
                )
                sentinel = await create_post(carol, "@checker_alice ping")
                event = await next_event(as_alice)
                check.expect(
                    "a user who is not mentioned receives nothing",
                    sent="the post above, then one that mentions alice",
                    expected={"action": "create", "pk": sentinel.pk},
                    got=action_and_pk(event),
                    hint="Only the mentioned users' groups: no group every user joins.",
                )

    return await run("Exercise 5.2 · @mentions for the mentioned only", scenario)
