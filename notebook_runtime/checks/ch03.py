"""Checks for exercises/03-permissions.ipynb: who may write, and only their own posts."""

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.models import QuerySet
from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.mixins import (
    CreateModelMixin,
    DeleteModelMixin,
    ListModelMixin,
    PatchModelMixin,
    RetrieveModelMixin,
)

from .support import checker_users, create_post, sessions
from .verdict import Check, Verdict


def consumer_with_permission(permission_class):
    """Every action 3.1's statement names, behind the learner's permission class."""
    from social.models import Post
    from social.serializers import PostSerializer

    class PermissionProbe(
        ListModelMixin,
        RetrieveModelMixin,
        CreateModelMixin,
        PatchModelMixin,
        DeleteModelMixin,
        GenericAsyncAPIConsumer,
    ):
        queryset = Post.objects.all()
        serializer_class = PostSerializer
        permission_classes = (permission_class,)

        # Following posts comes in chapter 04; here only the permission matters.
        @action()
        async def subscribe_to_hashtag(self, **kwargs):
            return {}, 201

        @action()
        async def unsubscribe_from_hashtag(self, **kwargs):
            return {}, 204

    return PermissionProbe


async def create_without_user_in_scope(consumer):
    """The status a create gets on a connection whose scope has no "user" key."""
    communicator = WebsocketCommunicator(consumer.as_asgi(), "/ws/")
    try:
        connected, _ = await communicator.connect()
        if not connected:
            return "connection refused"
        await communicator.send_json_to(
            {"action": "create", "request_id": 1, "data": {"body": "x"}}
        )
        return (await communicator.receive_json_from(timeout=2)).get("response_status")
    except Exception as error:  # the permission let it through, and creating crashed
        return f"allowed through, then {type(error).__name__}: {error}"
    finally:
        if not communicator.future.done():
            await communicator.disconnect()


async def check_write_permission(permission_class) -> Verdict:
    """Exercise 3.1: IsAuthenticatedForWrite lets anyone read and follow, only users
    do anything else."""
    reads = [f"an anonymous connection may {action}" for action in ("list", "retrieve")]
    follow = "an anonymous connection may follow and unfollow a hashtag"
    no_create = "an anonymous connection may not create (403), and nothing is stored"
    no_edit = "an anonymous connection may not patch or delete (403), and the post is unchanged"
    signed_in_creates = "a signed-in connection may create"
    no_user = "a connection whose scope has no user at all may not create"
    check = Check(
        "Exercise 3.1 · IsAuthenticatedForWrite",
        [*reads, follow, no_create, no_edit, signed_in_creates, no_user],
    )

    async def scenario():
        from social.models import Post

        consumer = consumer_with_permission(permission_class)
        async with (
            checker_users("alice") as (alice,),
            sessions(consumer, None, alice) as (
                anonymous,
                signed_in,
            ),
        ):
            post = await create_post(alice, "readable")
            for behaviour, (action_name, params) in zip(
                reads, (("list", {}), ("retrieve", {"pk": post.pk}))
            ):
                reply = await anonymous.request(action_name, **params)
                check.expect(
                    behaviour,
                    sent={"action": action_name, **params},
                    expected=200,
                    got=reply.get("response_status"),
                    hint="Return True for the read actions before asking super().",
                )
            statuses = [
                (await anonymous.request(action_name, hashtag="python")).get("response_status")
                for action_name in ("subscribe_to_hashtag", "unsubscribe_from_hashtag")
            ]
            check.expect(
                follow,
                sent="subscribe_to_hashtag, then unsubscribe_from_hashtag, anonymously",
                expected=[201, 204],
                got=statuses,
                hint="Return True for every action in READ_ACTIONS, not only list and retrieve: "
                "following posts changes nothing either.",
            )
            count = await Post.objects.acount()
            reply = await anonymous.request("create", data={"body": "sneaky"})
            check.expect(
                no_create,
                sent={"action": "create", "data": {"body": "sneaky"}},
                expected=[403, count],
                got=[reply.get("response_status"), await Post.objects.acount()],
                hint="For write actions, return what DCRF's IsAuthenticated.has_permission says.",
            )
            statuses = [
                (await anonymous.request("patch", pk=post.pk, data={"body": "defaced"})).get(
                    "response_status"
                ),
                (await anonymous.request("delete", pk=post.pk)).get("response_status"),
            ]
            unchanged = await Post.objects.filter(pk=post.pk, body="readable").aexists()
            check.expect(
                no_edit,
                sent="patch, then delete, of a post, anonymously",
                expected=[403, 403, True],
                got=[*statuses, unchanged],
                hint="Let through only the actions that change nothing (READ_ACTIONS); every "
                "other action, not only create, needs a signed-in user.",
            )
            reply = await signed_in.request("create", data={"body": "mine"})
            check.expect(
                signed_in_creates,
                sent={"action": "create", "data": {"body": "mine"}},
                expected=201,
                got=reply.get("response_status"),
                hint="Await super().has_permission(scope, consumer, action, **kwargs).",
            )
            got = await create_without_user_in_scope(consumer)
            check.expect(
                no_user,
                sent="create, on a connection without AuthMiddlewareStack",
                expected=403,
                got=got,
                hint="Build on djangochannelsrestframework.permissions.IsAuthenticated, "
                "not DRF's: DCRF wraps DRF's class and it lets a scope without a user through.",
            )

    return await check.run(scenario)


def _filter_results(consumer_class, user, post) -> dict:
    """What the learner's filter_queryset returns for each action, called as DCRF's
    get_object calls it."""
    consumer = consumer_class()
    consumer.scope = {"type": "websocket", "user": user}
    results = {}
    for action_name in ("patch", "delete", "retrieve"):
        queryset = consumer.get_queryset(action=action_name, pk=post.pk)
        results[action_name] = consumer.filter_queryset(
            queryset=queryset, action=action_name, pk=post.pk
        )
    return results


async def check_author_only(consumer_class) -> Verdict:
    """Exercise 3.2: patch and delete find only the connection's own posts (404 otherwise)."""
    shape = "filter_queryset returns a queryset for every action"
    others = [
        f"bob's {action} of alice's post answers 404 and changes nothing"
        for action in ("patch", "delete")
    ]
    retrieve = "bob, signed in, may still retrieve alice's post"
    own_patch = "alice may patch her own post"
    own_delete = "alice may delete her own post"
    check = Check(
        "Exercise 3.2 · only authors edit and delete",
        [shape, *others, retrieve, own_patch, own_delete],
    )

    async def scenario():
        from social.models import Post

        async with checker_users("alice", "bob") as (alice, bob):
            post = await create_post(alice, "alice's words")
            results = await sync_to_async(_filter_results)(consumer_class, alice, post)
            wrong = {
                name: result for name, result in results.items() if not isinstance(result, QuerySet)
            }
            if wrong:
                name, result = next(iter(wrong.items()))
                check.fail(
                    shape,
                    sent=f"filter_queryset(queryset, action={name!r}, pk=...), as alice",
                    expected="a QuerySet",
                    got=f"{type(result).__name__} {result!r}",
                    hint="Return a queryset for every action: the filtered one for patch and "
                    "delete, and the one you were given for the others (`return queryset`).",
                )
                return
            check.right(shape)

            async with sessions(consumer_class, alice, bob) as (as_alice, as_bob):
                for behaviour, (action_name, params) in zip(
                    others, (("patch", {"data": {"body": "bob was here"}}), ("delete", {}))
                ):
                    reply = await as_bob.request(action_name, pk=post.pk, **params)
                    still = await Post.objects.filter(pk=post.pk, body="alice's words").aexists()
                    check.expect(
                        behaviour,
                        sent={"action": action_name, "pk": "<alice's post>", **params},
                        expected=[404, True],
                        got=[reply.get("response_status"), still],
                        hint="In filter_queryset, for patch and delete, keep only posts whose "
                        "author is self.scope['user']: someone else's post is then 'not found'.",
                    )
                reply = await as_bob.request("retrieve", pk=post.pk)
                check.expect(
                    retrieve,
                    sent={"action": "retrieve", "pk": "<alice's post>"},
                    expected=200,
                    got=reply.get("response_status"),
                    hint="Restrict patch and delete only; return the queryset as it is otherwise.",
                )
                reply = await as_alice.request("patch", pk=post.pk, data={"body": "edited"})
                check.expect(
                    own_patch,
                    sent={"action": "patch", "pk": "<alice's post>", "data": {"body": "edited"}},
                    expected=200,
                    got=reply.get("response_status"),
                    hint="Filter on the author, not on something that excludes everyone.",
                )
                reply = await as_alice.request("delete", pk=post.pk)
                check.expect(
                    own_delete,
                    sent={"action": "delete", "pk": "<alice's post>"},
                    expected=[204, False],
                    got=[
                        reply.get("response_status"),
                        await Post.objects.filter(pk=post.pk).aexists(),
                    ],
                    hint="Filter on the author, not on something that excludes everyone.",
                )

    return await check.run(scenario)
