"""Every action and permission of LivePostConsumer, through WebsocketCommunicator."""
import pytest
from djangochannelsrestframework.permissions import WrappedDRFPermission
from rest_framework.permissions import IsAuthenticated as DRFIsAuthenticated

from social.consumers import LIST_LIMIT
from social.models import Post
from social.permissions import IsAuthenticatedForWrite

from .helpers import assert_error_reply, create_post, post_count

pytestmark = pytest.mark.django_db(transaction=True)


async def test_list_is_newest_first(api, alice, bob):
    first = await create_post(alice, "first")
    second = await create_post(bob, "second")
    reply = await (await api()).request("list")
    assert reply["response_status"] == 200
    assert reply["errors"] == []
    assert [post["pk"] for post in reply["data"]] == [second.pk, first.pk]
    assert set(reply["data"][0]) == {"created_at", "author", "body", "pk"}
    assert reply["data"][0]["author"] == bob.pk


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
