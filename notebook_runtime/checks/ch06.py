"""Checks for exercises/06-testing.ipynb: tests that catch a broken consumer.

A good test passes against the finished consumer and fails against a consumer
with exactly the bug it is meant to catch. Each checker runs the learner's test
function against both.
"""
import asyncio

from .support import checker_users
from .verdict import Verdict, run

# A test that waits forever for an event is as broken as one that never fails.
TEST_TIMEOUT = 10


def silent_consumer():
    """The finished consumer, except that subscribers never receive events."""
    from social.consumers import OBSERVER_EVENT_TYPE, LivePostConsumer

    class SilentConsumer(LivePostConsumer):
        async def dispatch(self, message):
            if message["type"] != OBSERVER_EVENT_TYPE:  # replies still go out; events do not
                await super().dispatch(message)

    return SilentConsumer


def sticky_consumer():
    """The finished consumer, except that unsubscribe_from_hashtag does nothing."""
    from djangochannelsrestframework.decorators import action

    from social.consumers import LivePostConsumer

    class StickyConsumer(LivePostConsumer):
        @action()
        async def unsubscribe_from_hashtag(self, hashtag, **kwargs):
            return {}, 204

    return StickyConsumer


async def outcome(test, consumer_class, author) -> str | None:
    """None if `test` passed against `consumer_class`, else why it failed."""
    try:
        await asyncio.wait_for(test(consumer_class, author), TEST_TIMEOUT)
    except NotImplementedError:
        raise
    except (asyncio.TimeoutError, TimeoutError) as error:
        return f"TimeoutError: {error}" if str(error) else "it did not finish"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


async def _check_test(check, test, broken_consumer, bug):
    from social.consumers import LivePostConsumer

    async with checker_users("alice") as (alice,):
        failure = await outcome(test, LivePostConsumer, alice)
        check.expect(
            "your test passes against the finished LivePostConsumer",
            sent="await your_test(LivePostConsumer, author)",
            expected="passed",
            got="passed" if failure is None else failure,
            hint="Run it against LivePostConsumer yourself and read the failure.",
        )
        failure = await outcome(test, broken_consumer, alice)
        check.expect(
            f"your test fails against a consumer where {bug}",
            sent="await your_test(BrokenConsumer, author)",
            expected="a failure (AssertionError or TimeoutError)",
            got="passed" if failure is None else failure,
            ok=failure is not None,
            hint="Assert on what the subscriber receives, with a timeout: a test that "
            "never looks at the events cannot catch this bug.",
        )


async def check_event_arrives_test(test) -> Verdict:
    """Exercise 6.1: a test that a subscriber receives a create event."""
    return await run(
        "Exercise 6.1 · a test that an event arrives",
        lambda check: _check_test(check, test, silent_consumer(), "no event is ever sent"),
    )


async def check_no_event_test(test) -> Verdict:
    """Exercise 6.2: a test that, after unsubscribing, no event arrives."""
    return await run(
        "Exercise 6.2 · a test that an event does not arrive",
        lambda check: _check_test(
            check, test, sticky_consumer(), "unsubscribe_from_hashtag keeps the subscription"
        ),
    )
