"""Verdicts for exercise check cells: a tick, or what went wrong and a hint.

A checker runs real requests against the learner's code and records each
behaviour it checked with `Check.expect()`. It never shows a traceback: a TODO stub
(NotImplementedError) reads "not started yet", and any other exception from the
learner's code becomes a failure that names the exception.
"""
import contextlib
import json
import logging
from dataclasses import dataclass, field

PASSED = "✔"
FAILED = "✘"
NOT_STARTED = "…"


@dataclass
class Failure:
    behaviour: str
    sent: str
    expected: str
    got: str
    hint: str


@dataclass
class Verdict:
    exercise: str
    checked: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    not_started: bool = False

    @property
    def passed(self) -> bool:
        return not self.not_started and not self.failures and bool(self.checked)

    def __str__(self) -> str:
        if self.not_started:
            return (
                f"{NOT_STARTED} {self.exercise}: not started yet. Replace the "
                "`raise NotImplementedError()` in the exercise cell with your code, "
                "run that cell, then run this check again."
            )
        if self.passed:
            lines = [f"{PASSED} {self.exercise}: passed. Checked that:"]
            lines += [f"  - {behaviour}" for behaviour in self.checked]
            return "\n".join(lines)
        total = len(self.checked) + len(self.failures)
        lines = [
            f"{FAILED} {self.exercise}: {len(self.failures)} of {total} "
            "behaviours not right yet."
        ]
        for failure in self.failures:
            lines += [
                f"  - {failure.behaviour}",
                f"      sent:     {failure.sent}",
                f"      expected: {failure.expected}",
                f"      got:      {failure.got}",
                f"      hint:     {failure.hint}",
            ]
        lines += [f"  Already right: {behaviour}" for behaviour in self.checked]
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


class NotStarted(Exception):
    """Raised inside a checker when the learner's code is still the TODO stub."""


class Check:
    """Collects the behaviours one checker verifies; see `run()`."""

    def __init__(self, exercise: str):
        self.verdict = Verdict(exercise)

    def expect(self, behaviour: str, *, sent, expected, got, hint: str, ok=None) -> bool:
        """Record one behaviour: right when `ok` is true (default: got == expected)."""
        if ok is None:
            ok = got == expected
        if ok:
            self.verdict.checked.append(behaviour)
        else:
            self.verdict.failures.append(
                Failure(behaviour, _show(sent), _show(expected), _show(got), hint)
            )
        return ok

    def fail(self, behaviour: str, *, sent, expected, got, hint: str) -> None:
        self.expect(behaviour, sent=sent, expected=expected, got=got, hint=hint, ok=False)


async def run(exercise: str, scenario) -> Verdict:
    """Run `await scenario(check)` and turn whatever happens into a Verdict."""
    check = Check(exercise)
    try:
        with _quiet_dcrf():
            await scenario(check)
    except (NotImplementedError, NotStarted):
        check.verdict.not_started = True
    except Exception as error:  # the learner's code failed in a way we did not foresee
        check.fail(
            "your code runs without raising an exception",
            sent="the checks above",
            expected="no exception",
            got=f"{type(error).__name__}: {error}",
            hint="Run your exercise cell on its own and read the error it gives.",
        )
    return check.verdict


@contextlib.contextmanager
def _quiet_dcrf():
    """DCRF logs a full traceback when an action raises (a TODO stub does); the
    verdict says it better, so keep its logger quiet while a check runs."""
    logger = logging.getLogger("djangochannelsrestframework")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _show(value) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)
