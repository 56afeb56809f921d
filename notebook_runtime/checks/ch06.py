"""Checks for exercises/06-testing.ipynb: tests that catch a broken consumer.

A good test passes against the finished consumer and fails against a consumer
with exactly the bug it is meant to catch. Each checker runs the learner's test
function against the finished consumer and against broken ones.
"""

import asyncio
import json

from .support import checker_users
from .verdict import Check, Verdict

# A test that waits forever for an event is as broken as one that never fails.
TEST_TIMEOUT = 10

# How late the late consumer delivers a stray event: longer than a test that
# "waits a second or two for nothing" waits.
LATE = 3.0

PASSES = "your test passes against the finished LivePostConsumer"
LOOK_AT_THE_EVENTS = (
    "Assert on what the subscriber receives, with a timeout: a test that never looks at "
    "the events cannot catch this bug."
)


def silent_consumer():
    """The finished consumer, except that subscribers never receive events."""
    from social.consumers import OBSERVER_EVENT_TYPE, LivePostConsumer

    class SilentConsumer(LivePostConsumer):
        async def dispatch(self, message):
            if message["type"] != OBSERVER_EVENT_TYPE:  # replies still go out; events do not
                await super().dispatch(message)

    return SilentConsumer


def bodiless_consumer():
    """The finished consumer, except that events leave out their "data" (the body)."""
    from social.consumers import OBSERVER_EVENT_TYPE, LivePostConsumer

    class BodilessConsumer(LivePostConsumer):
        async def dispatch(self, message):
            if message["type"] == OBSERVER_EVENT_TYPE:
                event = json.loads(message["body"]["text"])
                event.pop("data", None)
                message = {**message, "body": {"text": json.dumps(event)}}
            await super().dispatch(message)

    return BodilessConsumer


def sticky_consumer():
    """The finished consumer, except that unsubscribe_from_hashtag does nothing."""
    from djangochannelsrestframework.decorators import action

    from social.consumers import LivePostConsumer

    class StickyConsumer(LivePostConsumer):
        @action()
        async def unsubscribe_from_hashtag(self, hashtag, **kwargs):
            return {}, 204

    return StickyConsumer


def late_sticky_consumer():
    """The sticky consumer, whose events also arrive LATE seconds late."""
    from social.consumers import OBSERVER_EVENT_TYPE

    class LateStickyConsumer(sticky_consumer()):
        async def dispatch(self, message):
            if message["type"] == OBSERVER_EVENT_TYPE:
                await asyncio.sleep(LATE)  # the bug simulated: a slow delivery
            await super().dispatch(message)

    return LateStickyConsumer


async def outcome(test, consumer_class, author) -> str | None:
    """None if `test` passed against `consumer_class`, else why it failed."""
    try:
        await asyncio.wait_for(test(consumer_class, author), TEST_TIMEOUT)
    except NotImplementedError:
        raise
    except TimeoutError as error:
        return f"TimeoutError: {error}" if str(error) else "it did not finish"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


async def _check_test(check, test, broken):
    """Run `test` against the finished consumer, then against each of `broken`:
    (behaviour, consumer class, hint) in the order `check` declares them."""
    from social.consumers import LivePostConsumer

    async with checker_users("alice") as (alice,):
        failure = await outcome(test, LivePostConsumer, alice)
        check.expect(
            PASSES,
            sent="await your_test(LivePostConsumer, author)",
            expected="passed",
            got="passed" if failure is None else failure,
            hint="Run it against LivePostConsumer yourself and read the failure.",
        )
        for behaviour, consumer_class, hint in broken:
            failure = await outcome(test, consumer_class, alice)
            check.expect(
                behaviour,
                sent=f"await your_test({consumer_class.__name__}, author)",
                expected="a failure (AssertionError or TimeoutError)",
                got="passed" if failure is None else failure,
                ok=failure is not None,
                hint=hint,
            )


async def check_event_arrives_test(test) -> Verdict:
    """Exercise 6.1: a test that a subscriber receives exactly the create event."""
    silent = "your test fails against a consumer where no event is ever sent"
    bodiless = "your test fails against a consumer whose events leave out the body"
    check = Check("Exercise 6.1 · a test that an event arrives", [PASSES, silent, bodiless])
    broken = [
        (silent, silent_consumer(), LOOK_AT_THE_EVENTS),
        (
            bodiless,
            bodiless_consumer(),
            'Compare the whole event with {"action": "create", "pk": post.pk, "data": {"body": '
            "...}}: checking only its pk or action lets a missing body through.",
        ),
    ]
    return await check.run(lambda: _check_test(check, test, broken))


async def check_no_event_test(test) -> Verdict:
    """Exercise 6.2: a test that proves, with a sentinel, that after unsubscribing no
    event arrives."""
    sticky = (
        "your test fails against a consumer where unsubscribe_from_hashtag keeps the subscription"
    )
    late = f"it also fails when that consumer's stray event comes late ({LATE:g} s after the post)"
    check = Check("Exercise 6.2 · a test that an event does not arrive", [PASSES, sticky, late])
    broken = [
        (sticky, sticky_consumer(), LOOK_AT_THE_EVENTS),
        (
            late,
            late_sticky_consumer(),
            "A wait that sees nothing proves only that nothing came yet. Publish a sentinel "
            "post after the #python one and assert that the first message to arrive is the "
            "sentinel's: events arrive in order, however late.",
        ),
    ]
    return await check.run(lambda: _check_test(check, test, broken))
