"""Checks for exercises/03-permissions.ipynb: who may write, and only their own posts."""
from channels.testing import WebsocketCommunicator
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.mixins import (
    CreateModelMixin,
    DeleteModelMixin,
    ListModelMixin,
    PatchModelMixin,
    RetrieveModelMixin,
)

from .support import checker_users, create_post, sessions
from .verdict import Verdict, run


def consumer_with_permission(permission_class):
    from social.models import Post
    from social.serializers import PostSerializer

    class PermissionProbe(ListModelMixin, RetrieveModelMixin, CreateModelMixin, GenericAsyncAPIConsumer):
        queryset = Post.objects.all()
        serializer_class = PostSerializer
        permission_classes = (permission_class,)

    return PermissionProbe


async def create_without_user_in_scope(consumer):
    """The status a create gets on a connection whose scope has no "user" key."""
    communicator = WebsocketCommunicator(consumer.as_asgi(), "/ws/")
    try:
        connected, _ = await communicator.connect()
        if not connected:
            return "connection refused"
        await communicator.send_json_to({"action": "create", "request_id": 1, "data": {"body": "x"}})
        return (await communicator.receive_json_from(timeout=2)).get("response_status")
    except Exception as error:  # the permission let it through, and creating crashed
        return f"allowed through, then {type(error).__name__}: {error}"
    finally:
        if not communicator.future.done():
            await communicator.disconnect()


async def check_write_permission(permission_class) -> Verdict:
    """Exercise 3.1: IsAuthenticatedForWrite lets anyone read, only users write."""

    async def scenario(check):
        from social.models import Post

        consumer = consumer_with_permission(permission_class)
        async with checker_users("alice") as (alice,), sessions(consumer, None, alice) as (
            anonymous,
            signed_in,
        ):
            post = await create_post(alice, "readable")
            for action, params in (("list", {}), ("retrieve", {"pk": post.pk})):
                reply = await anonymous.request(action, **params)
                check.expect(
                    f"an anonymous connection may {action}",
                    sent={"action": action, **params},
                    expected=200,
                    got=reply.get("response_status"),
                    hint="Return True for the read actions before asking super().",
                )
            count = await Post.objects.acount()
            reply = await anonymous.request("create", data={"body": "sneaky"})
            check.expect(
                "an anonymous connection may not create (403), and nothing is stored",
                sent={"action": "create", "data": {"body": "sneaky"}},
                expected=[403, count],
                got=[reply.get("response_status"), await Post.objects.acount()],
                hint="For write actions, return what DCRF's IsAuthenticated.has_permission says.",
            )
            reply = await signed_in.request("create", data={"body": "mine"})
            check.expect(
                "a signed-in connection may create",
                sent={"action": "create", "data": {"body": "mine"}},
                expected=201,
                got=reply.get("response_status"),
                hint="Await super().has_permission(scope, consumer, action, **kwargs).",
            )
            got = await create_without_user_in_scope(consumer)
            check.expect(
                "a connection whose scope has no user at all may not create",
                sent="create, on a connection without AuthMiddlewareStack",
                expected=403,
                got=got,
                hint="Build on djangochannelsrestframework.permissions.IsAuthenticated, "
                "not DRF's: DCRF wraps DRF's class and it lets a scope without a user through.",
            )

    return await run("Exercise 3.1 · IsAuthenticatedForWrite", scenario)


async def check_author_only(consumer_class) -> Verdict:
    """Exercise 3.2: patch and delete find only the connection's own posts (404 otherwise)."""

    async def scenario(check):
        from social.models import Post

        async with checker_users("alice", "bob") as (alice, bob), sessions(
            consumer_class, alice, bob
        ) as (as_alice, as_bob):
            post = await create_post(alice, "alice's words")
            for action, params in (("patch", {"data": {"body": "bob was here"}}), ("delete", {})):
                reply = await as_bob.request(action, pk=post.pk, **params)
                still = await Post.objects.filter(pk=post.pk, body="alice's words").aexists()
                check.expect(
                    f"bob's {action} of alice's post answers 404 and changes nothing",
                    sent={"action": action, "pk": "<alice's post>", **params},
                    expected=[404, True],
                    got=[reply.get("response_status"), still],
                    hint="In filter_queryset, for patch and delete, keep only posts whose "
                    "author is self.scope['user']: someone else's post is then 'not found'.",
                )
            reply = await as_bob.request("retrieve", pk=post.pk)
            check.expect(
                "anyone may still retrieve alice's post",
                sent={"action": "retrieve", "pk": "<alice's post>"},
                expected=200,
                got=reply.get("response_status"),
                hint="Restrict patch and delete only; return the queryset as it is otherwise.",
            )
            reply = await as_alice.request("patch", pk=post.pk, data={"body": "edited"})
            check.expect(
                "alice may patch her own post",
                sent={"action": "patch", "pk": "<alice's post>", "data": {"body": "edited"}},
                expected=200,
                got=reply.get("response_status"),
                hint="Filter on the author, not on something that excludes everyone.",
            )
            reply = await as_alice.request("delete", pk=post.pk)
            check.expect(
                "alice may delete her own post",
                sent={"action": "delete", "pk": "<alice's post>"},
                expected=[204, False],
                got=[reply.get("response_status"), await Post.objects.filter(pk=post.pk).aexists()],
                hint="Filter on the author, not on something that excludes everyone.",
            )

    return await run("Exercise 3.2 · only authors edit and delete", scenario)
