"""One source for the minutes and the answers: the notebooks. The README's table,
the instructors' schedule and the answer key must agree with them."""

import re

import pytest

from notebook_runtime import lesson_plan
from notebook_runtime.lesson_plan import FULL_DAY, FULL_DAY_LIMIT, HALF_DAY, HALF_DAY_LIMIT, ROOT

EPISODES = lesson_plan.episodes()
README_ROW = re.compile(
    r"^\| \[[^\]]+\]\(notebooks/([^)]+)\) \| .*? \| (\d+) min \| (\d+) min \|$", re.M
)


def test_every_notebook_has_front_matter_and_practice_questions():
    assert [ep.name[:2] for ep in EPISODES] == [f"{n:02d}" for n in range(10)]
    for ep in EPISODES:
        assert ep.teaching > 0, ep.name
        assert 3 <= len(ep.questions) <= 5, ep.name
        assert len(ep.answers) == len(ep.questions), ep.name


def test_the_readme_table_gives_each_notebook_its_own_minutes():
    rows = {
        name: (int(t), int(e))
        for name, t, e in README_ROW.findall((ROOT / "README.md").read_text())
    }
    assert rows == {ep.name: (ep.teaching, ep.exercises) for ep in EPISODES}


def test_a_notebook_with_exercises_says_how_long_they_take():
    for ep in EPISODES:
        has_exercises = (ROOT / "exercises" / ep.name).exists()
        assert (ep.exercises > 0) == has_exercises, ep.name


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_an_exercise_notebook_promises_its_chapter_s_minutes(folder):
    import nbformat

    promised = {}
    for ep in EPISODES:
        path = ROOT / folder / ep.name
        if path.exists():
            intro = nbformat.read(path, as_version=4).cells[0].source
            promised[ep.name] = int(re.search(r"About (\d+) minutes\.", intro).group(1))
    assert promised == {ep.name: ep.exercises for ep in EPISODES if ep.exercises}


@pytest.mark.parametrize("path", sorted(lesson_plan.generated()), ids=lambda path: path.name)
def test_the_generated_instructor_pages_are_up_to_date(path):
    assert path.read_text() == lesson_plan.generated()[path], "run `make instructors`"


def test_the_plans_fit_their_day():
    by_name = {ep.name: ep for ep in EPISODES}
    assert lesson_plan.plan_minutes(HALF_DAY, by_name) <= HALF_DAY_LIMIT
    assert lesson_plan.plan_minutes(FULL_DAY, by_name) <= FULL_DAY_LIMIT
    # The full day teaches every notebook.
    assert {item for item, _ in FULL_DAY if item != "break"} == set(by_name)


def test_run_time_comes_from_the_stored_cells(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1")
    cell.metadata["execution"] = {
        "iopub.execute_input": "2026-01-01T10:00:00.000000Z",
        "shell.execute_reply": "2026-01-01T10:00:02.500000Z",
    }
    notebook.cells = [cell, nbformat.v4.new_code_cell("2")]
    assert lesson_plan.run_seconds(notebook) == 2.5


ERROR_QUOTE = re.compile(r"\*\*Error\*\*: `([^`]+)`")
# Quoted from programs whose output no notebook stores: daphne's runserver on a
# port already taken (checked by hand with `make serve` on a busy port).
QUOTED_FROM_ELSEWHERE = {
    "Address already in use",
    "Listen failure: Couldn't listen on 127.0.0.1:8000: [Errno 98] Address already in use.",
}


def texts_learners_see() -> str:
    """The notebooks' stored outputs, and the runtime's own hints and messages."""
    import nbformat

    texts = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                texts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
                texts += [output.get("evalue", "")]
    texts += [path.read_text() for path in (ROOT / "notebook_runtime").rglob("*.py")]
    return "\n".join(texts)


def test_every_error_the_notes_quote_is_the_text_learners_see():
    notes = (ROOT / "instructors" / "instructor-notes.md").read_text()
    quoted = ERROR_QUOTE.findall(notes)
    assert len(quoted) >= 7
    seen = texts_learners_see()
    missing = [text for text in quoted if text not in seen and text not in QUOTED_FROM_ELSEWHERE]
    assert missing == []
