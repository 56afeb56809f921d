"""Checkers for the exercise notebooks: one call per exercise, a verdict back.

    from notebook_runtime.checks import ch04
    await ch04.check_hashtag_groups(groups_for_signal, groups_for_consumer)

Each checker declares the behaviours it checks, one per rule of the exercise's
statement, and runs real requests (WebsocketCommunicator, the learner's code inside
a consumer) after calling the learner's functions directly to check the shape of
what they return. It returns a Verdict that lists every behaviour: a tick; for a
failing one what was sent, what was expected, what came back (or the exception and
the line of the learner's code that raised it), and a hint; or "not checked" when
an earlier step stopped the check. A TODO stub answers "not started yet".
"""

from .verdict import Verdict

__all__ = ["Verdict"]
