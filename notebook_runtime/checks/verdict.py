"""Verdicts for exercise check cells: a tick, or what went wrong and a hint.

A checker declares up front, in order, the behaviours it checks, then runs real
requests against the learner's code and records each behaviour with
`Check.expect()`. The verdict lists every declared behaviour: right, not right
yet (with what was sent, what was expected, what came back, and a hint), or not
checked because an earlier step stopped the check. So a learner always sees the
whole list of rules, and a check that could not run never drops out of the count.

It never shows a traceback: a TODO stub (NotImplementedError) reads "not started
yet", and any other exception fails the step it happened in, naming the
exception, its message and the line of the learner's code that raised it.
"""

import contextlib
import json
import linecache
import logging
import re
import sysconfig
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ObjectDoesNotExist, SynchronousOnlyOperation

PASSED = "✔"
FAILED = "✘"
NOT_STARTED = "…"
NOT_CHECKED = "·"

# Why a behaviour was not checked.
AFTER_AN_ERROR = "an earlier step raised"
AFTER_A_FAILURE = "it needs the failing check above to pass first"

STUB_HINT = (
    "Replace the `raise NotImplementedError()` in the exercise cell with your code, "
    "run that cell, then run this check again."
)


@dataclass
class Failure:
    behaviour: str
    sent: str | None
    expected: str | None
    got: str
    hint: str
    # Where the learner's code raised, when it did: "line 12 of your cell In[3]: ...".
    raised_at: str | None = None


@dataclass
class Verdict:
    exercise: str
    behaviours: list[str]
    checked: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    not_started: bool = False
    # Why the behaviours not reached were not checked (see not_checked).
    stopped_because: str = AFTER_A_FAILURE

    @property
    def not_checked(self) -> list[str]:
        """The declared behaviours the check never reached, in order."""
        done = set(self.checked) | {failure.behaviour for failure in self.failures}
        return [behaviour for behaviour in self.behaviours if behaviour not in done]

    @property
    def passed(self) -> bool:
        return (
            not self.not_started
            and not self.failures
            and not self.not_checked
            and bool(self.checked)
        )

    def __str__(self) -> str:
        if self.not_started:
            lines = [
                f"{NOT_STARTED} {self.exercise}: not started yet. {STUB_HINT} It will check that:"
            ]
            lines += [f"  - {behaviour}" for behaviour in self.behaviours]
            return "\n".join(lines)
        if self.passed:
            lines = [f"{PASSED} {self.exercise}: passed. Checked that:"]
            lines += [f"  - {behaviour}" for behaviour in self.checked]
            return "\n".join(lines)
        return "\n".join(self._failed_lines())

    def _failed_lines(self) -> list[str]:
        not_checked = self.not_checked
        summary = f"{len(self.failures)} of {len(self.behaviours)} behaviours not right yet"
        if not_checked:
            summary += f", {len(not_checked)} not checked"
        lines = [f"{FAILED} {self.exercise}: {summary}."]
        failures = {failure.behaviour: failure for failure in self.failures}
        for behaviour in self.behaviours:
            if behaviour in failures:
                lines += [f"  {FAILED} {behaviour}", *_failure_lines(failures[behaviour])]
            elif behaviour in self.checked:
                lines.append(f"  {PASSED} {behaviour}")
            else:
                lines += [
                    f"  {NOT_CHECKED} {behaviour}",
                    f"      not checked: {self.stopped_because}",
                ]
        return lines

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


def _failure_lines(failure: Failure) -> list[str]:
    lines = []
    if failure.sent is not None:
        lines.append(f"      sent:     {failure.sent}")
    if failure.expected is not None:
        lines.append(f"      expected: {failure.expected}")
    lines.append(f"      got:      {failure.got}")
    if failure.raised_at is not None:
        lines.append(f"      at:       {failure.raised_at}")
    lines.append(f"      hint:     {failure.hint}")
    return lines


class NotStarted(Exception):
    """Raised inside a checker when the learner's code is still the TODO stub."""


class UndeclaredBehaviour(Exception):
    """A checker recorded a behaviour it did not declare: a bug in the checker."""


class NoReply(Exception):
    """A request got no reply in time. DCRF replies with what an action returns,
    and sends nothing when that is not a (data, status) pair."""

    def __init__(self, action: str, timeout: float):
        super().__init__(f"no reply to {action!r} arrived within {timeout:g} s")
        self.action = action


class Check:
    """The behaviours one checker verifies, and what became of each.

        check = Check("Exercise 2.1 · a posts_by action", behaviours=[...])
        async def scenario():
            ...
            check.expect("a user who does not exist answers 404", sent=..., ...)
        return await check.run(scenario)

    `raised_hints` maps exception classes to a hint that fits this exercise, for
    exceptions the learner's code is likely to raise (see `hint_for()`).
    """

    def __init__(self, exercise: str, behaviours, *, raised_hints=None):
        self.verdict = Verdict(exercise, list(behaviours))
        self.raised_hints = raised_hints or {}

    def expect(self, behaviour: str, *, sent, expected, got, hint: str, ok=None) -> bool:
        """Record one behaviour: right when `ok` is true (default: got == expected)."""
        if behaviour not in self.verdict.behaviours:
            raise UndeclaredBehaviour(behaviour)
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

    def right(self, behaviour: str) -> None:
        """Record a behaviour found right by a check that has nothing to compare."""
        self.expect(behaviour, sent=None, expected=None, got=None, hint="", ok=True)

    async def run(self, scenario) -> Verdict:
        """Run `await scenario()` and turn whatever happens into the verdict."""
        try:
            with _quiet_dcrf():
                await scenario()
        except UndeclaredBehaviour:
            raise
        except (NotImplementedError, NotStarted) as error:
            self._stub_reached(error)
        except Exception as error:  # the learner's code failed in a way we did not foresee
            self._raised(error)
        return self.verdict

    def _stub_reached(self, error: Exception):
        """A TODO stub before anything was checked: "not started yet". Once some
        behaviours were checked (one function of two written, say), the step that
        reached the stub fails, and says so."""
        if not (self.verdict.checked or self.verdict.failures):
            self.verdict.not_started = True
            return
        self._stop(
            error, "NotImplementedError: this part of your code is still the TODO stub", STUB_HINT
        )

    def _raised(self, error: Exception):
        self._stop(error, described(error), self.hint_for(error))

    def _stop(self, error: Exception, got: str, hint: str):
        """Fail the step in progress, the first behaviour not recorded yet, with
        `got`; the behaviours after it are listed as not checked."""
        self.verdict.stopped_because = AFTER_AN_ERROR
        not_checked = self.verdict.not_checked
        if not_checked:
            current = not_checked[0]
        else:  # every behaviour was recorded, then cleaning up failed
            current = "the check finishes without an exception"
            self.verdict.behaviours.append(current)
        self.verdict.failures.append(Failure(current, None, None, got, hint, _learner_line(error)))

    def hint_for(self, error: Exception) -> str:
        """A hint for an exception: this exercise's, else a general one."""
        for error_class, hint in self.raised_hints.items():
            if isinstance(error, error_class):
                return hint
        return hint_for(error)


def described(error: Exception) -> str:
    """ "DoesNotExist: User matching query does not exist.", as Python prints it."""
    if isinstance(error, NoReply):
        return str(error)
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def hint_for(error: Exception) -> str:
    """What usually causes `error` in exercise code, and what to do about it."""
    if isinstance(error, NoReply):
        return (
            "An action replies with what it returns: end it with `return data, status`. "
            "Returning anything else (nothing, or only the data) sends no reply at all."
        )
    if isinstance(error, ObjectDoesNotExist):
        return (
            "`.get()` raises DoesNotExist when no row matches. Use `.filter(...).first()` "
            "and test for None, or catch the DoesNotExist, then answer as the exercise asks."
        )
    if isinstance(error, SynchronousOnlyOperation):
        return (
            "This code runs on the event loop, where Django's synchronous ORM is not allowed. "
            "In an async function, use the async methods (aget, acount, `async for`); in a "
            "function the observer calls, use what its arguments give you, without a query."
        )
    if _learner_line(error) is None:
        return (
            "The check called your code the way the exercise describes, and this came back "
            "from the library: compare your names, parameters and return values with the "
            "exercise's statement."
        )
    return (
        "Your code raised this exception while the check ran this step. Fix the line "
        "shown, run your exercise cell again, then this check."
    )


# Code that is not the learner's: the standard library, installed packages, this
# runtime and the tutorial project that the exercises build on.
_PROJECT = Path(__file__).resolve().parent.parent.parent
_NOT_LEARNER_CODE = tuple(
    {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    | {str(_PROJECT / "notebook_runtime"), str(_PROJECT / "tutorial_project")}
)
# A notebook cell's code: ipykernel names it /tmp/ipykernel_<pid>/<hash>.py,
# plain IPython <ipython-input-<n>-<hash>>.
_IPYKERNEL_CELL = re.compile(r"ipykernel_\d+[/\\]\d+\.py$")
_IPYTHON_CELL = re.compile(r"<ipython-input-(\d+)-")


def _learner_line(error: BaseException) -> str | None:
    """Where in the learner's code `error` was raised, with that line of source.

    The innermost frame of a notebook cell, else the innermost frame outside the
    libraries (a learner's module, or a test standing in for one). None when the
    exception never passed through the learner's code.
    """
    frames = traceback.extract_tb(error.__traceback__)
    frame = next((f for f in reversed(frames) if _is_cell(f.filename)), None)
    if frame is None:
        frame = next((f for f in reversed(frames) if _is_learner_file(f.filename)), None)
    if frame is None:
        return None
    source = linecache.getline(frame.filename, frame.lineno).strip()
    return f"{_line_name(frame)}: {source}" if source else _line_name(frame)


def _is_cell(filename: str) -> bool:
    return bool(_IPYKERNEL_CELL.search(filename) or _IPYTHON_CELL.match(filename))


def _is_learner_file(filename: str) -> bool:
    return not filename.startswith("<") and not filename.startswith(_NOT_LEARNER_CODE)


def _line_name(frame) -> str:
    """ "line 12 of your cell In[3]", or "line 12 of answers.py"."""
    if not _is_cell(frame.filename):
        return f"line {frame.lineno} of {Path(frame.filename).name}"
    number = _cell_number(frame.filename)
    cell = f"your cell In[{number}]" if number is not None else "your cell"
    return f"line {frame.lineno} of {cell}"


def _cell_number(filename: str) -> int | None:
    """The execution count of the cell IPython compiled into `filename`."""
    match = _IPYTHON_CELL.match(filename)
    if match:
        return int(match[1])
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(getattr(shell, "compile", None), "_filename_map", {}).get(filename)


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
