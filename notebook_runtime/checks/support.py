"""What checkers share: their own users, connections to the learner's consumer,
and the sentinel way to prove that no event arrived."""
import contextlib

from asgiref.sync import sync_to_async

from ..communicator import ApiCommunicator

# Waits for something that should arrive; a wrong answer costs at most this long.
EVENT_TIMEOUT = 2.0


@contextlib.asynccontextmanager
async def checker_users(*names):
    """Users that exist only during a check, so the learner's data is left alone.
    Their posts go with them (CASCADE)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    users = []
    for name in names:
        user, _ = await User.objects.aget_or_create(username=f"checker_{name}")
        users.append(user)
    try:
        yield users
    finally:
        await User.objects.filter(pk__in=[user.pk for user in users]).adelete()


@contextlib.asynccontextmanager
async def sessions(consumer_class, *users):
    """One connected ApiCommunicator per user (None: anonymous), all closed after."""
    opened = []
    try:
        for user in users:
            session = ApiCommunicator(user, consumer_class.as_asgi())
            session.timeout = EVENT_TIMEOUT
            opened.append(await session.connect())
        yield opened
    finally:
        for session in opened:
            await session.close()


async def create_post(author, body):
    from social.models import Post

    return await sync_to_async(Post.objects.create)(author=author, body=body)


async def next_event(session):
    """The next pushed message, or None if none arrives in time."""
    try:
        return await session.next_message(timeout=EVENT_TIMEOUT)
    except TimeoutError:
        return None


def action_and_pk(event):
    """What matters of an event for most checks (None if no event arrived)."""
    return event if event is None else {key: event.get(key) for key in ("action", "pk")}


async def events_until_sentinel(session, author, subscribe=None):
    """Publish a post tagged #checkersentinel and return every message that arrived
    before its event: proof, without sleeping, of what else was sent.

    `subscribe` is the request that makes `session` follow #checkersentinel
    (default: subscribe_to_hashtag). Returns None if the sentinel never arrives.
    """
    if subscribe is None:
        await session.request("subscribe_to_hashtag", hashtag="checkersentinel")
    else:
        await subscribe()
    sentinel = await create_post(author, "sentinel #checkersentinel")
    before = []
    while True:
        message = await next_event(session)
        if message is None:
            return None
        if isinstance(message, dict) and message.get("pk") == sentinel.pk:
            return before
        before.append(message)


@contextlib.contextmanager
def probe_consumer(signal_groups, consumer_groups, serializer=None, *, as_user=False):
    """A consumer that runs the learner's observer functions inside a real DCRF
    model observer, with `subscribe` and `unsubscribe` actions.

    The probe's observer listens to Post's signals only while the `with` block
    runs, so a TODO stub in the learner's functions never breaks other cells'
    Post saves.

    `subscribe` passes the message's parameters to `consumer_groups`, or, with
    `as_user`, the connection's user only.
    """
    from djangochannelsrestframework.decorators import action
    from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
    from djangochannelsrestframework.observer import model_observer
    from djangochannelsrestframework.permissions import AllowAny

    from django.db.models.signals import post_delete, post_init, post_save

    from social.models import Post

    class Probe(GenericAsyncAPIConsumer):
        queryset = Post.objects.all()
        permission_classes = (AllowAny,)

        @model_observer(Post)
        async def activity(self, message, observer=None, action=None, **kwargs):
            await self.send_json({"action": action, **message})

        @activity.groups_for_signal
        def activity(self, instance, **kwargs):
            yield from signal_groups(instance)

        @activity.groups_for_consumer
        def activity(self, consumer=None, **params):
            if as_user:
                yield from consumer_groups(consumer.scope["user"])
            else:
                yield from consumer_groups(**params)

        if serializer is not None:

            @activity.serializer
            def activity(self, instance, action, **kwargs):
                return serializer(instance, action)

        @action()
        async def subscribe(self, request_id=None, action=None, **params):
            await self.activity.subscribe(request_id="subscribed", **params)
            return {}, 201

        @action()
        async def unsubscribe(self, request_id=None, action=None, **params):
            await self.activity.unsubscribe(**params)
            return {}, 204

    try:
        yield Probe
    finally:
        uid = str(id(Probe.activity))
        for signal in (post_init, post_save, post_delete):
            signal.disconnect(sender=Post, dispatch_uid=uid)

