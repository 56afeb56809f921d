"""Live events: their exact shapes, who receives them, and the DCRF 1.3 behaviours
that make the source article's code fall short."""

import pytest
from channels_redis.core import RedisChannelLayer
from djangochannelsrestframework.observer.model_observer import Action

from notebook_runtime import ApiCommunicator
from notebook_runtime.article_consumer import ArticleConsumer
from social.consumers import LivePostConsumer

from .helpers import assert_no_event_before, create_post

pytestmark = pytest.mark.django_db(transaction=True)


async def subscribed(api, *tags, user=None):
    session = await api(user)
    for tag in (*tags, "sentinel"):
        reply = await session.request("subscribe_to_hashtag", hashtag=tag)
        assert reply["response_status"] == 201, reply
    return session


async def test_create_event_has_the_articles_shape(api, alice):
    bob = await subscribed(api, "python")
    reply = await (await api(alice)).request("create", data={"body": "New #python post"})
    assert await bob.next_message() == {
        "action": "create",
        "pk": reply["data"]["pk"],
        "data": {"body": "New #python post"},
    }


async def test_update_and_delete_events(api, alice):
    bob = await subscribed(api, "python")
    post = await create_post(alice, "#python v1")
    await bob.next_message()
    writer = await api(alice)
    await writer.request("patch", pk=post.pk, data={"body": "#python v2"})
    assert await bob.next_message() == {
        "action": "update",
        "pk": post.pk,
        "data": {"body": "#python v2"},
    }
    await writer.request("delete", pk=post.pk)
    assert await bob.next_message() == {"action": "delete", "pk": post.pk}


async def test_edit_that_leaves_a_hashtag_sends_delete(api, alice):
    bob = await subscribed(api, "python")
    post = await create_post(alice, "#python and #django")
    await bob.next_message()
    await (await api(alice)).request("patch", pk=post.pk, data={"body": "just #django"})
    assert await bob.next_message() == {"action": "delete", "pk": post.pk}


async def test_edit_that_adds_a_hashtag_sends_create(api, alice):
    bob = await subscribed(api, "python")
    post = await create_post(alice, "plain")
    await (await api(alice)).request("patch", pk=post.pk, data={"body": "now #python"})
    assert await bob.next_message() == {
        "action": "create",
        "pk": post.pk,
        "data": {"body": "now #python"},
    }


async def test_other_hashtags_send_nothing(api, alice):
    bob = await subscribed(api, "python")
    await create_post(alice, "about #django only")
    await assert_no_event_before(bob, alice)


@pytest.mark.parametrize(
    "subscribe_to, body",
    [("#Python", "i love #PYTHON"), ("café", "un #Café"), ("#東京", "#東京 tonight")],
)
async def test_hashtag_rule_is_the_same_on_both_sides(api, alice, subscribe_to, body):
    bob = await subscribed(api, subscribe_to)
    post = await create_post(alice, body)
    assert await bob.next_message() == {"action": "create", "pk": post.pk, "data": {"body": body}}


async def test_unsubscribe_stops_events(api, alice):
    bob = await subscribed(api, "python")
    assert (await bob.request("unsubscribe_from_hashtag", hashtag="PYTHON"))[
        "response_status"
    ] == 204
    await create_post(alice, "#python")
    await assert_no_event_before(bob, alice)


async def test_unsubscribe_works_for_a_subscription_without_request_id(api, alice):
    bob = await subscribed(api)
    await bob.send_json({"action": "subscribe_to_hashtag", "hashtag": "python"})
    assert (await bob.next_message())["response_status"] == 201
    await bob.send_json({"action": "unsubscribe_from_hashtag", "hashtag": "python"})
    assert (await bob.next_message())["response_status"] == 204
    await create_post(alice, "#python")
    await assert_no_event_before(bob, alice)


async def test_subscribe_to_list_streams_every_post(api, alice):
    watcher = await api()
    await watcher.request("subscribe_to_list")
    post = await create_post(alice, "no tags at all")
    assert await watcher.next_message() == {
        "action": "create",
        "pk": post.pk,
        "data": {"body": "no tags at all"},
    }
    await watcher.request("unsubscribe_from_list")
    await watcher.request("subscribe_to_hashtag", hashtag="sentinel")
    await create_post(alice, "unseen")
    await assert_no_event_before(watcher, alice)


async def test_a_post_arrives_once_per_matching_subscription(api, alice):
    """Clients must deduplicate by pk: two matching groups, two events."""
    bob = await subscribed(api, "python", "django")
    post = await create_post(alice, "#python meets #django")
    expected = {"action": "create", "pk": post.pk, "data": {"body": post.body}}
    assert [await bob.next_message(), await bob.next_message()] == [expected, expected]
    await assert_no_event_before(bob, alice)


async def test_event_body_is_plain_data_that_crosses_redis(alice):
    """The observer's serializer output crosses the channel layer; with Redis
    that means msgpack, which refuses datetimes, model instances and the like."""
    post = await create_post(alice, "#python")
    observer = LivePostConsumer.post_change_handler
    redis_layer = RedisChannelLayer()
    for action in Action:
        message = observer.serialize(post, action)
        assert redis_layer.deserialize(redis_layer.serialize(message)) == message


# The source article's code on DCRF 1.3 ------------------------------------------


async def article_api(user=None):
    return await ApiCommunicator(user, ArticleConsumer.as_asgi()).connect()


async def test_article_handler_no_longer_sends_the_documented_event(alice):
    session = await article_api()
    await session.request("subscribe_to_hashtag", hashtag="python")
    post = await create_post(alice, "#python")
    # Documented: {"action": "create", "pk": ..., "data": {...}}. DCRF now passes
    # the action separately, so a bare send_json(message) drops it.
    assert await session.next_message() == {"pk": post.pk, "data": {"body": "#python"}}
    await session.close()


async def test_article_serializer_compares_an_enum_with_a_string(alice):
    post = await create_post(alice, "#python")
    assert Action.DELETE != "delete"
    message = ArticleConsumer.post_change_handler.serialize(post, Action.DELETE)
    assert message["body"] == {"pk": post.pk, "data": {"body": "#python"}}  # not {"pk"}


async def test_article_unsubscribe_without_request_id_is_a_no_op(alice):
    """Until an event has arrived on it: delivering one makes DCRF record the group."""
    session = await article_api()
    await session.request("subscribe_to_hashtag", hashtag="python")
    reply = await session.request("unsubscribe_from_hashtag", hashtag="python")
    assert reply["response_status"] == 204  # reports success...
    post = await create_post(alice, "#python")
    assert (await session.next_message())["pk"] == post.pk  # ...yet still subscribed
    await session.close()


async def test_article_hashtag_rule_truncates_unicode(alice):
    session = await article_api()
    await session.request("subscribe_to_hashtag", hashtag="caf")
    post = await create_post(alice, "#café")
    assert (await session.next_message())["pk"] == post.pk  # "#café" became "#caf"
    await session.close()


async def test_events_skip_the_database_thread_hop(api, alice, monkeypatch):
    """Channels awaits aclose_old_connections() before each message; live events
    touch no database, so LivePostConsumer delivers them without that hop."""
    import channels.consumer

    bob = await subscribed(api, "python")
    hops = []
    real_hop = channels.consumer.aclose_old_connections

    async def counted_hop():
        hops.append(1)
        await real_hop()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted_hop)
    post = await create_post(alice, "#python")
    assert (await bob.next_message())["pk"] == post.pk
    assert hops == []
    await bob.request("list")  # requests still take the hop: they use the database
    assert hops == [1]
