"""Checkers for the exercise notebooks: one call per exercise, a verdict back.

    from notebook_runtime.checks import ch04
    await ch04.check_hashtag_groups(groups_for_signal, groups_for_consumer)

Each checker runs real requests (WebsocketCommunicator, the learner's code inside
a consumer) and returns a Verdict: a tick and what was checked, "not started yet"
for a TODO stub, or for each failing behaviour what was sent, what was expected,
what came back, and a hint.
"""
from .verdict import Verdict

__all__ = ["Verdict"]
