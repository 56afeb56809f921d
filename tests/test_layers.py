"""The project's in-memory channel layer keeps Channels' layer contract: every member
of a group gets its own copy of each message, a full channel drops (and now logs),
old memberships expire when configured to, and memory is given back."""

import asyncio
import logging

import pytest
from channels.exceptions import ChannelFull

from social.layers import FanOutInMemoryChannelLayer

TIMEOUT = 5


async def receive(layer, channel):
    return await asyncio.wait_for(layer.receive(channel), TIMEOUT)


async def members(layer, count, group="followers"):
    channels = [await layer.new_channel() for _ in range(count)]
    for channel in channels:
        await layer.group_add(group, channel)
    return channels


async def test_every_member_gets_its_own_copy_in_order():
    layer = FanOutInMemoryChannelLayer()
    first, second = await members(layer, 2)
    for number in range(3):
        await layer.group_send("followers", {"type": "post.event", "data": {"number": number}})

    received = [await receive(layer, first) for _ in range(3)]
    received[0]["data"]["number"] = "changed by the first consumer"

    assert [m["data"]["number"] for m in received[1:]] == [1, 2]
    assert [(await receive(layer, second))["data"]["number"] for _ in range(3)] == [0, 1, 2]


async def test_a_full_channel_drops_the_message_for_that_member_only_and_logs_it(caplog):
    layer = FanOutInMemoryChannelLayer(capacity=2)
    stalled, reading = await members(layer, 2)
    with caplog.at_level(logging.WARNING, logger="social.layers"):
        for number in range(3):
            await layer.group_send("followers", {"type": "post.event", "number": number})
            assert (await receive(layer, reading))["number"] == number

    assert [(await receive(layer, stalled))["number"] for _ in range(2)] == [0, 1]
    assert len(caplog.records) == 1 and stalled in caplog.records[0].getMessage()
    await layer.send(stalled, {"type": "post.event"})
    await layer.send(stalled, {"type": "post.event"})
    with pytest.raises(ChannelFull):  # send() to a full channel raises, as in Channels
        await layer.send(stalled, {"type": "post.event"})


async def test_memberships_older_than_group_expiry_leave_the_group():
    layer = FanOutInMemoryChannelLayer(group_expiry=60, sweep_interval=0)
    old, new = await members(layer, 2)
    layer.groups["followers"][old] -= 61

    await layer.group_send("followers", {"type": "post.event"})
    await layer.send(old, {"type": "sentinel"})

    assert (await receive(layer, old))["type"] == "sentinel"
    assert (await receive(layer, new))["type"] == "post.event"


async def test_the_configured_layer_keeps_long_memberships_and_a_burst():
    from django.conf import settings

    layer = FanOutInMemoryChannelLayer(
        **settings.CHANNEL_LAYERS["default"]["CONFIG"], sweep_interval=0
    )
    (member,) = await members(layer, 1)
    layer.groups["followers"][member] -= 2 * 86400
    for number in range(1000):
        await layer.group_send("followers", {"type": "post.event", "number": number})

    assert [(await receive(layer, member))["number"] for _ in range(1000)] == list(range(1000))


async def test_queues_nobody_receives_from_are_given_back():
    layer = FanOutInMemoryChannelLayer(sweep_interval=0)
    channels = await members(layer, 3)
    await layer.group_send("followers", {"type": "post.event"})
    for channel in channels:
        await receive(layer, channel)
    waiting = asyncio.create_task(layer.receive(channels[0]))
    await asyncio.sleep(0)  # let it start waiting on its queue

    await layer.group_send("other", {"type": "post.event"})  # any call sweeps when due

    assert set(layer.channels) == {channels[0]}  # the one being received from stays
    await layer.send(channels[0], {"type": "post.event"})
    assert (await asyncio.wait_for(waiting, TIMEOUT))["type"] == "post.event"


async def test_a_stalled_channel_is_logged_once_until_it_takes_a_message_again(caplog):
    layer = FanOutInMemoryChannelLayer(capacity=1)
    (stalled,) = await members(layer, 1)
    with caplog.at_level(logging.WARNING, logger="social.layers"):
        for number in range(50):  # one taken, 49 dropped: one line
            await layer.group_send("followers", {"type": "post.event", "number": number})
        assert len(caplog.records) == 1
        assert (await receive(layer, stalled))["number"] == 0
        for number in range(2):  # taken again, then full again: a new line
            await layer.group_send("followers", {"type": "post.event", "number": number})
    assert len(caplog.records) == 2
