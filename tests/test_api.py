"""Every action and permission of LivePostConsumer, through WebsocketCommunicator."""

from contextlib import asynccontextmanager

import pytest
from asgiref.sync import sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext
from djangochannelsrestframework.permissions import WrappedDRFPermission
from rest_framework.permissions import IsAuthenticated as DRFIsAuthenticated

from social.consumers import LIST_LIMIT
from social.models import Post
from social.permissions import IsAuthenticatedForWrite

from .helpers import assert_error_reply, create_post, post_count

pytestmark = pytest.mark.django_db(transaction=True)


@asynccontextmanager
async def queries_of_the_consumer():
    """Capture the SQL the consumer runs meanwhile.

    Each thread has its own database connection, and the consumer's synchronous
    actions run on asgiref's one thread for thread-sensitive code (DCRF calls them
    through database_sync_to_async), which sync_to_async uses too: capture on the
    connection of that thread, not of this one.
    """
    queries = CaptureQueriesContext(await sync_to_async(lambda: connections[DEFAULT_DB_ALIAS])())
    await sync_to_async(queries.__enter__)()
    try:
        yield queries
    finally:
        await sync_to_async(queries.__exit__)(None, None, None)


async def test_list_is_newest_first(api, alice, bob):
    first = await create_post(alice, "first")
    second = await create_post(bob, "second")
    reply = await (await api()).request("list")
    assert reply["response_status"] == 200
    assert reply["errors"] == []
    assert [post["pk"] for post in reply["data"]] == [second.pk, first.pk]
    assert set(reply["data"][0]) == {"created_at", "author", "author_username", "body", "pk"}
    assert reply["data"][0]["author"] == bob.pk
    assert reply["data"][0]["author_username"] == "bob"


async def test_list_names_every_author_in_one_query(api, django_user_model):
    authors = [await django_user_model.objects.acreate(username=f"author{n}") for n in range(5)]
    for author in authors:
        await create_post(author, f"by {author.username}")
    session = await api()
    async with queries_of_the_consumer() as queries:
        reply = await session.request("list")
    assert {post["body"]: post["author_username"] for post in reply["data"]} == {
        f"by author{n}": f"author{n}" for n in range(5)
    }
    assert len(queries) == 1, [query["sql"] for query in queries]  # not one per author


@pytest.mark.parametrize(
    "action, params, reads",
    [
        ("retrieve", {"pk": None}, 1),
        ("patch", {"pk": None, "data": {"body": "edited"}}, 1),
        # the author is the connection's user; the one read counts the author's
        # posts of the last minute (the rate limit)
        ("create", {"data": {"body": "new"}}, 1),
    ],
)
async def test_a_reply_about_one_post_names_its_author_without_another_query(
    api, alice, action, params, reads
):
    post = await create_post(alice, "hello")
    session = await api(alice)
    params = {**params, "pk": post.pk} if "pk" in params else params
    async with queries_of_the_consumer() as queries:
        reply = await session.request(action, **params)
    assert reply["data"]["author_username"] == "alice"
    selects = [query["sql"] for query in queries if query["sql"].startswith("SELECT")]
    assert len(selects) == reads, selects


async def test_list_shows_at_most_500_posts(api, alice):
    await Post.objects.abulk_create(
        Post(author=alice, body=f"post {n}") for n in range(LIST_LIMIT + 2)
    )
    reply = await (await api()).request("list")
    assert len(reply["data"]) == LIST_LIMIT == 500
    assert reply["data"][0]["body"] == "post 501"  # the newest of them


async def test_list_filters_by_body_case_insensitively(api, alice):
    await create_post(alice, "I like #Python")
    await create_post(alice, "I like tea")
    reply = await (await api()).request("list", body_contains="PYTHON")
    assert [post["body"] for post in reply["data"]] == ["I like #Python"]


async def test_anyone_may_retrieve(api, alice):
    post = await create_post(alice, "hello")
    reply = await (await api()).request("retrieve", pk=post.pk)
    assert reply["response_status"] == 200
    assert reply["data"]["body"] == "hello"
    assert reply["data"]["author"] == alice.pk


async def test_retrieve_unknown_post_is_404(api):
    reply = await (await api()).request("retrieve", pk=999)
    assert_error_reply(reply, status=404, request_id=1)


async def test_signed_in_user_creates_as_themselves(api, alice, bob):
    session = await api(alice)
    reply = await session.request("create", data={"body": "mine", "author": bob.pk})
    assert reply["response_status"] == 201
    assert reply["data"]["author"] == alice.pk  # never taken from the message
    assert reply["data"]["author_username"] == "alice"
    post = await Post.objects.aget(pk=reply["data"]["pk"])
    assert post.author_id == alice.pk and post.body == "mine"


@pytest.mark.parametrize(
    "action, params",
    [
        ("create", {"data": {"body": "hi"}}),
        ("patch", {"pk": 1, "data": {"body": "hi"}}),
        ("delete", {"pk": 1}),
    ],
)
async def test_anonymous_never_writes(api, alice, action, params):
    post = await create_post(alice, "original")
    params = {**params, "pk": post.pk} if "pk" in params else params
    reply = await (await api()).request(action, **params)
    assert_error_reply(reply, status=403, request_id=1)
    assert await post_count() == 1
    assert (await Post.objects.aget(pk=post.pk)).body == "original"


async def test_author_patches_own_post(api, alice):
    post = await create_post(alice, "draft")
    reply = await (await api(alice)).request("patch", pk=post.pk, data={"body": "final"})
    assert reply["response_status"] == 200
    assert reply["data"]["body"] == "final"
    assert (await Post.objects.aget(pk=post.pk)).body == "final"


async def test_author_deletes_own_post(api, alice):
    post = await create_post(alice, "oops")
    reply = await (await api(alice)).request("delete", pk=post.pk)
    assert reply["response_status"] == 204
    assert reply["errors"] == []
    assert await post_count() == 0


@pytest.mark.parametrize(
    "action, params", [("patch", {"data": {"body": "hijacked"}}), ("delete", {})]
)
async def test_someone_elses_post_does_not_exist_for_writing(api, alice, bob, action, params):
    post = await create_post(alice, "alice's")
    reply = await (await api(bob)).request(action, pk=post.pk, **params)
    assert_error_reply(reply, status=404, request_id=1)
    assert (await Post.objects.aget(pk=post.pk)).body == "alice's"


@pytest.mark.parametrize(
    "action, params, status",
    [
        ("subscribe_to_hashtag", {"hashtag": "python"}, 201),
        ("unsubscribe_from_hashtag", {"hashtag": "python"}, 204),
        ("subscribe_to_list", {}, 201),
        ("unsubscribe_from_list", {}, 204),
    ],
)
@pytest.mark.parametrize("signed_in", [False, True])
async def test_anyone_may_follow_posts(api, alice, action, params, status, signed_in):
    session = await api(alice if signed_in else None)
    reply = await session.request(action, **params)
    assert reply == {
        "errors": [],
        "data": {},
        "action": action,
        "response_status": status,
        "request_id": 1,
    }


async def test_read_only_permission_for_anonymous_scope_without_user():
    """DRF's IsAuthenticated, wrapped by DCRF, judges a request built from the scope,
    and a scope without a user passes it: the reason IsAuthenticatedForWrite is
    built on DCRF's own IsAuthenticated instead."""
    wrapped_drf = WrappedDRFPermission(DRFIsAuthenticated())
    assert await wrapped_drf.has_permission({}, None, "create")

    ours = IsAuthenticatedForWrite()
    assert not await ours.has_permission({}, None, "create")
    assert await ours.has_permission({}, None, "list")
    assert await ours.has_permission({}, None, "subscribe_to_hashtag")
