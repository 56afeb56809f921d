"""The model observer behind LivePostConsumer's live events.

DCRF's ModelObserver, with two changes, each made the way DCRF allows (a subclass
that the `model_observer` decorator below builds, as DCRF's own decorator does):

- a change saved while the channel layer cannot be reached is still saved, and
  only its events are dropped (OutageTolerantModelObserver, social/outages.py);
- an event is copied once per receiver, not twice. The channel layer already
  hands each receiver its own copy (the in-memory layer copies, Redis decodes),
  and DCRF's observer deep-copies that copy again before it pops two keys off
  it: a shallow copy keeps the layer's message as it was just as well. Measured
  in `make bench`: notebook 09.
"""

from functools import partial

from .outages import OutageTolerantModelObserver


class LiveModelObserver(OutageTolerantModelObserver):
    async def __call__(self, message, consumer=None, **kwargs):
        message = dict(message)
        body = message.pop("body", {})
        message_type = message.pop("type")
        requests = ()
        if consumer is not None:
            groups = consumer._observer_group_to_request_id[self._stable_observer_id]
            requests = groups[message.get("group")]
        return await self.func(
            consumer,
            body,
            observer=self,
            message_type=message_type,
            subscribing_request_ids=list(requests),
            **message,
            **kwargs,
        )


def model_observer(model, **kwargs):
    """As DCRF's observer.model_observer(), with LiveModelObserver."""
    return partial(LiveModelObserver, model_cls=model, **kwargs)
