"""Properties of the request envelope, for any message a client could send.

tests/test_bad_input.py checks the malformed messages we thought of; here hypothesis
makes up the rest: any JSON value, nested any way, with any unicode, of any size up
to SOCIAL_LIMITS["MAX_MESSAGE_LENGTH"], sent to every action with arguments of any
type. Whatever arrives, the client gets one reply, a success or a 4xx with errors
(never a 500, never a closed socket), and a refused request stores nothing.

All the examples of a test go through one connection: it has to stay usable across
hundreds of bad messages, as a learner's does while they experiment.
"""

import json

import pytest
from django.conf import settings
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from social.consumers import LivePostConsumer
from social.models import Post

pytestmark = pytest.mark.django_db(transaction=True)

ACTIONS = sorted(LivePostConsumer.available_actions)
# The arguments the actions read, and a few they do not.
ARGUMENTS = ["data", "pk", "hashtag", "body_contains", "page_size", "request_id", "x"]

# One connection, its fixture and its database, for all of a test's examples.
PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into a learner's clone
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

# Messages shaped like requests: a real action, with arguments of any JSON type.
requests = st.fixed_dictionaries(
    {"action": st.sampled_from(ACTIONS)},
    optional={
        name: json_values
        | st.integers(1, 20)  # the pks of posts the examples have created
        | st.fixed_dictionaries({}, optional={"body": json_values, "author": json_values})
        for name in ARGUMENTS
    },
)


@pytest.fixture
async def author(api, alice):
    """A signed-in connection (so creates can succeed) without a rate limit to reach."""
    with override_settings(SOCIAL_LIMITS={**settings.SOCIAL_LIMITS, "POSTS_PER_MINUTE": 10**9}):
        yield await api(alice)


async def stored_posts():
    return {pk: body async for pk, body in Post.objects.values_list("pk", "body")}


async def reply_to_text(session, text: str) -> dict:
    """Send one text frame; return the reply to it, passing over live events."""
    await session.send_text(text)
    while True:
        message = await session.next_message()
        if "response_status" in message:
            return message


async def assert_answered_and_usable(session, text: str) -> dict:
    before = await stored_posts()
    reply = await reply_to_text(session, text)
    status = reply["response_status"]
    assert 200 <= status < 300 or 400 <= status < 500, reply
    if status >= 400:
        assert reply["errors"], reply
        assert await stored_posts() == before, f"{text!r} was refused but changed posts"
    # The socket still serves a plain request.
    assert (await session.request("list", body_contains="no post has this text"))[
        "response_status"
    ] == 200
    return reply


@PROPERTY_SETTINGS
@given(value=json_values)
async def test_any_json_value_gets_a_success_or_a_4xx_and_stores_nothing_if_refused(author, value):
    await assert_answered_and_usable(author, json.dumps(value))


@PROPERTY_SETTINGS
@given(message=requests)
async def test_any_arguments_to_any_action_get_a_success_or_a_4xx(author, message):
    await assert_answered_and_usable(author, json.dumps(message))


@PROPERTY_SETTINGS
# (WebsocketCommunicator cannot send an empty frame; tests/test_bad_input.py sends one
# through a real server.)
@given(text=st.text(min_size=1))
async def test_any_text_frame_gets_a_success_or_a_4xx(author, text):
    await assert_answered_and_usable(author, text)


@PROPERTY_SETTINGS
@given(body=st.text(max_size=400), padding=st.integers(0, 2 * 16384))
async def test_any_size_up_to_the_limit_is_read_and_beyond_it_refused_with_413(
    author, body, padding
):
    message = {"action": "create", "data": {"body": body}, "pad": "x" * padding}
    text = json.dumps(message)
    reply = await assert_answered_and_usable(author, text)
    most = settings.SOCIAL_LIMITS["MAX_MESSAGE_LENGTH"]
    if len(text) > most:
        assert reply["response_status"] == 413, reply
    else:
        assert reply["response_status"] != 413, reply
