"""What checkers share: their own users, connections to the learner's consumer,
the sentinel way to prove that no event arrived, and the shape checks that run
the learner's functions directly before any behaviour is checked."""

import contextlib

from asgiref.sync import async_to_sync, sync_to_async

from ..communicator import ApiCommunicator
from .verdict import NoReply

# Waits for something that should arrive; a wrong answer costs at most this long.
EVENT_TIMEOUT = 2.0

# What a check shows as "got" when no event came.
NOTHING_ARRIVED = f"nothing arrived within {EVENT_TIMEOUT:g} s"


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


class CheckerSession(ApiCommunicator):
    """An ApiCommunicator whose missing replies say why they matter to a learner."""

    timeout = EVENT_TIMEOUT

    async def request(self, action: str, **params) -> dict:
        try:
            return await super().request(action, **params)
        except TimeoutError:
            raise NoReply(action, self.timeout) from None


@contextlib.asynccontextmanager
async def sessions(consumer_class, *users):
    """One connected CheckerSession per user (None: anonymous), all closed after."""
    opened = []
    try:
        for user in users:
            opened.append(await CheckerSession(user, consumer_class.as_asgi()).connect())
        yield opened
    finally:
        for session in opened:
            await session.close()


async def create_post(author, body):
    from social.models import Post

    return await sync_to_async(Post.objects.create)(author=author, body=body)


async def next_event(session):
    """The next pushed message, or NOTHING_ARRIVED if none arrives in time."""
    try:
        return await session.next_message(timeout=EVENT_TIMEOUT)
    except TimeoutError:
        return NOTHING_ARRIVED


def action_and_pk(event):
    """What matters of an event for most checks (NOTHING_ARRIVED stays as it is)."""
    if not isinstance(event, dict):
        return event
    return {key: event.get(key) for key in ("action", "pk")}


async def events_until(session, pk):
    """Every message that arrives before the event about post `pk`, or
    NOTHING_ARRIVED if that event never comes."""
    before = []
    while True:
        message = await next_event(session)
        if message == NOTHING_ARRIVED:
            return NOTHING_ARRIVED
        if isinstance(message, dict) and message.get("pk") == pk:
            return before
        before.append(message)


async def events_until_sentinel(session, author, subscribe=None):
    """Publish a post tagged #checkersentinel and return every message that arrived
    before its event: proof, without sleeping, of what else was sent.

    `subscribe` is the request that makes `session` follow #checkersentinel
    (default: subscribe_to_hashtag). Returns a sentence saying so if the sentinel
    never arrives.
    """
    if subscribe is None:
        await session.request("subscribe_to_hashtag", hashtag="checkersentinel")
    else:
        await subscribe()
    sentinel = await create_post(author, "sentinel #checkersentinel")
    before = await events_until(session, sentinel.pk)
    if before == NOTHING_ARRIVED:
        return f"the sentinel post, published after it, never arrived within {EVENT_TIMEOUT:g} s"
    return before


# Shape checks ---------------------------------------------------------------------


def group_names_problem(name: str, result) -> tuple[str, str | None]:
    """What the learner's group function `name` gave, shown, and why that is not
    group names (None if it is). DCRF iterates over the result: a string would
    become one group per letter, and None fails deep inside DCRF."""
    if isinstance(result, (str, bytes)):
        return repr(result), (
            f"{name} returned the string {result!r}; yield each group name (or return "
            "a list of names): a string is iterated letter by letter."
        )
    if result is None:
        return "None", f"{name} returned None; yield each group name (or return a list of names)."
    try:
        names = list(result)
    except TypeError:
        return repr(result), (
            f"{name} returned {result!r}, which is not a list of names; yield each group "
            "name (or return a list of names)."
        )
    for item in names:
        if not isinstance(item, str):
            return repr(names), (
                f"{name} gave {item!r}, a {type(item).__name__}; group names are strings, "
                'such as f"-hashtag-{tag}".'
            )
    return repr(names), None


def group_names_behaviour(signal_groups, consumer_groups) -> str:
    """The shape check's behaviour, named after the learner's two functions."""
    return f"{signal_groups.__name__} and {consumer_groups.__name__} give group names (strings)"


def _group_names_of_call(function, args, kwargs):
    return group_names_problem(function.__name__, function(*args, **kwargs))


async def expect_group_names(check, behaviour, calls) -> bool:
    """Call the learner's group functions directly, before any event depends on
    them, and check that each gives group names.

    `calls` holds (function, its arguments as shown to the learner, args, kwargs).
    Each runs in a worker thread, as groups_for_signal does when a post is saved.
    """
    for function, shown_arguments, args, kwargs in calls:
        got, problem = await sync_to_async(_group_names_of_call)(function, args, kwargs)
        if problem is not None:
            check.fail(
                behaviour,
                sent=f"{function.__name__}({shown_arguments})",
                expected="group names: strings, yielded one by one (or a list of them)",
                got=got,
                hint=problem,
            )
            return False
    check.right(behaviour)
    return True


# Database queries ------------------------------------------------------------------


def _queries_of_call(function, args):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # async_to_sync, from this worker thread, runs the coroutine on the caller's
    # event loop, and its ORM calls come back to this thread: so they are captured.
    with CaptureQueriesContext(connection) as queries:
        result = async_to_sync(function)(*args)
    return result, [query["sql"] for query in queries.captured_queries]


async def queries_of(function, *args):
    """(what `await function(*args)` returns, the SQL of the queries it ran)."""
    return await sync_to_async(_queries_of_call)(function, args)


def _queries_to_load(pk) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from social.models import Post

    with CaptureQueriesContext(connection) as queries:
        Post.objects.get(pk=pk)
    return len(queries)


async def queries_to_load_a_post(post) -> int:
    """How many queries loading `post` takes. Loading runs groups_for_signal (on
    post_init): one query for the post itself, and there should be no other."""
    return await sync_to_async(_queries_to_load)(post.pk)


# The probe consumer ----------------------------------------------------------------


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
    from django.db.models.signals import post_delete, post_init, post_save
    from djangochannelsrestframework.decorators import action
    from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
    from djangochannelsrestframework.observer import model_observer
    from djangochannelsrestframework.permissions import AllowAny

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
