"""Assertions shared by the test modules."""
from asgiref.sync import sync_to_async

from social.models import Post

ERROR_KEYS = {"errors", "data", "action", "response_status", "request_id"}


async def create_post(author, body: str) -> Post:
    """Save a post the way any Django code would (admin, shell), outside the API."""
    return await sync_to_async(Post.objects.create)(author=author, body=body)


async def post_count() -> int:
    return await Post.objects.acount()


async def assert_no_event_before(session, sentinel_author, sentinel_tag="sentinel"):
    """Prove that no event is waiting for `session`, without sleeping.

    The session must be subscribed to #<sentinel_tag>. A post with that tag is
    published; events reach a connection in order, so if the first event to
    arrive is that post's, nothing else was sent before it.
    """
    sentinel = await create_post(sentinel_author, f"sentinel #{sentinel_tag}")
    event = await session.next_message()
    assert event == {
        "action": "create",
        "pk": sentinel.pk,
        "data": {"body": sentinel.body},
    }, f"expected no event before the sentinel, got {event}"


def assert_error_reply(reply, status=None, request_id=None):
    assert set(reply) == ERROR_KEYS, reply
    assert 400 <= reply["response_status"] < 500, reply
    if status is not None:
        assert reply["response_status"] == status, reply
    assert reply["errors"], reply
    assert reply["data"] is None, reply
    assert reply["request_id"] == request_id, reply
