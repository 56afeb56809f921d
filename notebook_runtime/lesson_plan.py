"""The instructor's schedule and answer key, made from the notebooks themselves.

    python -m notebook_runtime.lesson_plan write   # instructors/schedule.md and practice-answers.md
    python -m notebook_runtime.lesson_plan check   # exit 1 if either is out of date

Each notebook's first cell is its front matter, as a Carpentries episode has:
"**Teaching**: 30 min · **Exercises**: 20 min", then its questions. Its stored
outputs carry the time each cell took to run (nbclient records it). Its
"Practice questions" cell, and the collapsed answers after it, are the answer key.
So the minutes, the run times and the answers have one source each, and the
schedule cannot drift from them: `make test` fails when it does.
"""

import math
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
INSTRUCTORS = ROOT / "instructors"
MINUTES = re.compile(r"\*\*Teaching\*\*: (\d+) min · \*\*Exercises\*\*: (\d+) min")
NUMBERED = re.compile(r"^\d+\. ", re.MULTILINE)


@dataclass
class Episode:
    """What the schedule needs to know of one notebook."""

    path: Path
    title: str
    teaching: int
    exercises: int
    run_seconds: float
    questions: list[str]
    answers: list[str]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def run_minutes(self) -> int:
        """Minutes the cells take to run, rounded up: the wait an instructor adds."""
        return max(1, math.ceil(self.run_seconds / 60))


def episode(path: Path) -> Episode:
    notebook = nbformat.read(path, as_version=4)
    front = notebook.cells[0].source
    match = MINUTES.search(front)
    if match is None:
        raise ValueError(
            f"{path.name}: its first cell has no '**Teaching**: N min · **Exercises**: N min'"
        )
    practice = _cell_after(notebook, "## Practice questions")
    answers = _cell_after(notebook, "<details>")
    return Episode(
        path=path,
        title=front.splitlines()[0].removeprefix("# ").strip(),
        teaching=int(match[1]),
        exercises=int(match[2]),
        run_seconds=run_seconds(notebook),
        questions=_numbered_items(practice),
        answers=_numbered_items(answers.split("</summary>", 1)[1].replace("</details>", "")),
    )


def episodes() -> list[Episode]:
    return [episode(path) for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))]


def run_seconds(notebook) -> float:
    """How long the stored run of the notebook's code cells took, from the
    timestamps nbclient records in each cell's metadata."""
    total = 0.0
    for cell in notebook.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            started = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            ended = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            total += (ended - started).total_seconds()
    return total


# The plans: which notebooks, with or without their exercises, and the breaks.
# ("break", minutes) or (notebook file name, with_exercises).
HALF_DAY = [
    ("00-tour.ipynb", False),
    ("01-post-model.ipynb", False),
    ("02-websocket-api.ipynb", True),
    ("break", 15),
    ("03-permissions.ipynb", False),
    ("04-hashtags.ipynb", True),
]
HALF_DAY_LIMIT = 210  # 3.5 hours
FULL_DAY = [
    ("00-tour.ipynb", False),
    ("01-post-model.ipynb", True),
    ("02-websocket-api.ipynb", True),
    ("break", 15),
    ("03-permissions.ipynb", True),
    ("04-hashtags.ipynb", True),
    ("break", 60),
    ("05-event-serializer.ipynb", True),
    ("06-testing.ipynb", True),
    ("break", 15),
    ("07-live-page.ipynb", False),
    ("08-scale-out.ipynb", False),
    ("09-performance.ipynb", False),
]
FULL_DAY_LIMIT = 480  # 9:00 to 17:00
START = datetime(2000, 1, 1, 9, 0)


def plan_rows(plan, by_name: dict[str, Episode]) -> list[tuple[str, str, int]]:
    """(start time, what, minutes) for each item of a plan, then the end."""
    rows, clock = [], START
    for item, detail in plan:
        if item == "break":
            what, minutes = ("Lunch" if detail >= 45 else "Break"), detail
        else:
            ep = by_name[item]
            minutes = ep.teaching + ep.run_minutes + (ep.exercises if detail else 0)
            exercise_note = f" + exercises {ep.exercises}" if detail and ep.exercises else ""
            skipped = " (exercises as homework)" if not detail and ep.exercises else ""
            what = (
                f"[{ep.title}](../notebooks/{ep.name}): teaching {ep.teaching}"
                f"{exercise_note} + running cells {ep.run_minutes}{skipped}"
            )
        rows.append((clock.strftime("%H:%M"), what, minutes))
        clock += timedelta(minutes=minutes)
    rows.append((clock.strftime("%H:%M"), "End", 0))
    return rows


def plan_minutes(plan, by_name) -> int:
    return sum(minutes for _, _, minutes in plan_rows(plan, by_name))


def schedule_markdown(eps: list[Episode]) -> str:
    by_name = {ep.name: ep for ep in eps}
    lines = [
        "# Schedules",
        "",
        "Generated by `make instructors` from each notebook's front matter (teaching and exercise",
        "minutes) and from how long its cells took in the stored run; do not edit by hand.",
        "",
        "## Minutes per notebook",
        "",
        "| notebook | teaching | exercises | cells run (stored run) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| [{ep.title}](../notebooks/{ep.name}) | {ep.teaching} min | {ep.exercises} min "
        f"| {ep.run_seconds:.1f} s |"
        for ep in eps
    ]
    for heading, plan, limit in [
        ("Half day (3.5 hours)", HALF_DAY, HALF_DAY_LIMIT),
        ("Full day", FULL_DAY, FULL_DAY_LIMIT),
    ]:
        total = plan_minutes(plan, by_name)
        lines += ["", f"## {heading}", "", f"{total} minutes of {limit}.", ""]
        lines += ["| start | what | minutes |", "|---|---|---|"]
        lines += [
            f"| {start} | {what} | {minutes or ''} |"
            for start, what, minutes in plan_rows(plan, by_name)
        ]
    lines += [
        "",
        "In the half day, notebooks 05-09 and the skipped exercises are homework; every notebook",
        "runs alone, from an empty database, so learners can take them in any order afterwards.",
        "",
    ]
    return "\n".join(lines)


def answers_markdown(eps: list[Episode]) -> str:
    lines = [
        "# Practice questions and answers",
        "",
        'Generated by `make instructors` from the notebooks\' "Practice questions" cells and the',
        "collapsed answers after them (the same text self-learners open); do not edit by hand.",
    ]
    for ep in eps:
        lines += ["", f"## [{ep.title}](../notebooks/{ep.name})", ""]
        for number, (question, answer) in enumerate(zip(ep.questions, ep.answers, strict=True), 1):
            lines += [f"{number}. {question}", "", f"   *Answer*: {answer}", ""]
    return "\n".join(lines).rstrip() + "\n"


def generated() -> dict[Path, str]:
    eps = episodes()
    return {
        INSTRUCTORS / "schedule.md": schedule_markdown(eps),
        INSTRUCTORS / "practice-answers.md": answers_markdown(eps),
    }


def _cell_after(notebook, marker: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith(marker):
            return cell.source
    raise ValueError(f"no markdown cell starting with {marker!r}")


def _numbered_items(markdown: str) -> list[str]:
    parts = NUMBERED.split(markdown)[1:]
    return [" ".join(part.split()) for part in parts]


def main(argv: list[str]) -> int:
    files = generated()
    if argv == ["write"]:
        for path, text in files.items():
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if argv == ["check"]:
        stale = [
            path for path, text in files.items() if not path.exists() or path.read_text() != text
        ]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run `make instructors`")
        return 1 if stale else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
