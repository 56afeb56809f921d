"""Small, in-process measurements of fan-out for notebook 09.

`make bench` (fanout.py) measures whole servers from outside. These functions
look inside one process instead, where a profiler can see every function:

- `layer_delivery_cost`: a channel layer alone, one group_send to S channels;
- `dispatch_cost`: a consumer's receive loop alone (Channels' await_many_dispatch
  or the project's dispatch_in_turn), per message;
- `profile_fanout`: the project's consumer, S subscribers through Channels'
  WebsocketCommunicator, under cProfile;
- `loading_cost`: what a model observer's groups_for_signal costs when posts load.
"""

import asyncio
import cProfile
import pstats
import time
from contextlib import contextmanager

GROUP = "fanout"


async def layer_delivery_cost(layer, subscribers: int, messages: int) -> float:
    """Microseconds of this process's time per delivered message: `messages`
    group_sends to `subscribers` channels, each drained by its own task, as
    consumers drain theirs."""
    channels = [await layer.new_channel() for _ in range(subscribers)]
    for channel in channels:
        await layer.group_add(GROUP, channel)

    async def drain(channel):
        for _ in range(messages):
            await layer.receive(channel)

    receivers = [asyncio.create_task(drain(channel)) for channel in channels]
    started = time.process_time()
    for number in range(messages):
        await layer.group_send(GROUP, {"type": "post.event", "text": f"event {number}"})
        await asyncio.sleep(0)  # let the receivers run, as a server's loop would
    await asyncio.wait_for(asyncio.gather(*receivers), timeout=60)
    return (time.process_time() - started) / (subscribers * messages) * 1e6


async def dispatch_cost(loop_function, messages: int) -> float:
    """Microseconds of this process's time per message that `loop_function`
    (await_many_dispatch or dispatch_in_turn) reads from a queue and dispatches,
    with a second, idle source beside it, as a consumer has (its client and its
    channel layer)."""
    from channels.exceptions import StopConsumer

    queued, idle = asyncio.Queue(), asyncio.Queue()
    for number in range(messages):
        queued.put_nowait({"type": "post.event", "number": number})
    dispatched = 0

    async def dispatch(message):
        nonlocal dispatched
        dispatched += 1
        if dispatched == messages:
            raise StopConsumer

    started = time.process_time()
    try:
        await asyncio.wait_for(loop_function([queued.get, idle.get], dispatch), timeout=60)
    except StopConsumer:
        pass
    return (time.process_time() - started) / messages * 1e6


@contextmanager
def using_layer(layer):
    """Make `layer` the default channel layer inside the block (and restore the
    previous one after), so consumers and the model observer both use it."""
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

    previous = channel_layers.set(DEFAULT_CHANNEL_LAYER, layer)
    try:
        yield layer
    finally:
        if previous is None:  # no layer had been made yet: make it afresh next time
            channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
        else:
            channel_layers.set(DEFAULT_CHANNEL_LAYER, previous)


async def profile_fanout(author, subscribers: int = 100, posts: int = 20) -> pstats.Stats:
    """Profile `posts` posts tagged #fanout reaching `subscribers` connections of
    LivePostConsumer; return the profile once every event has arrived."""
    from channels.db import database_sync_to_async

    from social.consumers import LivePostConsumer
    from social.models import Post

    from .communicator import ApiCommunicator

    sessions = []
    try:
        for _ in range(subscribers):
            session = await ApiCommunicator(None, LivePostConsumer.as_asgi()).connect()
            await session.request("subscribe_to_hashtag", hashtag="fanout")
            sessions.append(session)
        create = database_sync_to_async(Post.objects.create)
        profiler = cProfile.Profile()
        profiler.enable()
        for number in range(posts):
            await create(author=author, body=f"#fanout {number}")
        for session in sessions:
            for _ in range(posts):
                await session.next_message(timeout=10)
        profiler.disable()
    finally:
        for session in sessions:
            await session.close()
    return pstats.Stats(profiler)


def loading_cost(signal_groups, posts: int) -> tuple[int, float]:
    """(queries, milliseconds) to load the newest `posts` posts while a model
    observer with `signal_groups` as its groups_for_signal listens to Post.

    DCRF's observer runs groups_for_signal for every instance Django *loads*
    (post_init), to know later which groups an edit leaves: whatever that
    function costs is paid per post in every list, subscribers or not.
    Synchronous: call it through run_sync from a cell.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from social.models import Post

    from .checks.support import probe_consumer

    with (
        probe_consumer(signal_groups, lambda **params: ()),
        CaptureQueriesContext(connection) as queries,
    ):
        started = time.perf_counter()
        list(Post.objects.all()[:posts])
        elapsed = time.perf_counter() - started
    return len(queries), round(elapsed * 1000, 2)
