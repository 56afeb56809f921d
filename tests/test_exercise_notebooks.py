"""exercises/ is generated from solutions/: it must be what the generator makes;
and `make check` reports every check of a notebook, in full."""

import nbformat
import pytest

from notebook_runtime.exercise_notebooks import (
    EXERCISES,
    SOLUTIONS,
    check,
    check_reports,
    exercise_from,
    strip_solutions,
    verdicts,
)


def test_solution_regions_become_stubs_at_their_indentation():
    source = (
        "def f(x):\n"
        '    """Doc."""\n'
        "    ### BEGIN SOLUTION\n"
        "    return x * 2\n"
        "    ### END SOLUTION\n"
        "\n"
        "print(f)"
    )
    assert strip_solutions(source) == (
        "def f(x):\n"
        '    """Doc."""\n'
        "    # TODO: your code here\n"
        "    raise NotImplementedError()\n"
        "\n"
        "print(f)"
    )


def test_every_region_is_replaced():
    source = "### BEGIN SOLUTION\na = 1\n### END SOLUTION\nb = 2\n### BEGIN SOLUTION\nc = 3\n### END SOLUTION"
    assert strip_solutions(source).count("raise NotImplementedError()") == 2
    assert "a = 1" not in strip_solutions(source) and "c = 3" not in strip_solutions(source)


def test_exercises_and_solutions_are_the_same_notebooks():
    solutions = sorted(path.name for path in SOLUTIONS.glob("*.ipynb"))
    exercises = sorted(path.name for path in EXERCISES.glob("*.ipynb"))
    assert solutions == exercises, "run `make exercises` to regenerate exercises/"


@pytest.mark.parametrize(
    "solution_path", sorted(SOLUTIONS.glob("*.ipynb")), ids=lambda path: path.name
)
def test_exercise_is_generated_from_its_solution(solution_path):
    solution = nbformat.read(solution_path, as_version=4)
    exercise = nbformat.read(EXERCISES / solution_path.name, as_version=4)
    expected = [(cell.cell_type, cell.source) for cell in exercise_from(solution).cells]
    actual = [(cell.cell_type, cell.source) for cell in exercise.cells]
    assert actual == expected, (
        f"exercises/{solution_path.name} differs from what solutions/ generates: "
        "edit the solution, then run `make exercises`"
    )
    assert any("### BEGIN SOLUTION" in cell.source for cell in solution.cells)


@pytest.mark.parametrize(
    "solution_path", sorted(SOLUTIONS.glob("*.ipynb")), ids=lambda path: path.name
)
def test_stored_verdicts_pass_in_solutions_and_are_not_started_in_exercises(solution_path):
    solution_verdicts = verdicts(nbformat.read(solution_path, as_version=4))
    exercise_verdicts = verdicts(nbformat.read(EXERCISES / solution_path.name, as_version=4))
    assert solution_verdicts and all(text.startswith("✔") for text in solution_verdicts)
    assert len(exercise_verdicts) == len(solution_verdicts)
    assert all("not started yet" in text.splitlines()[0] for text in exercise_verdicts)
    for solved, unsolved in zip(solution_verdicts, exercise_verdicts):
        # The stub's verdict lists what the check will check: the same behaviours.
        assert solved.splitlines()[1:] == unsolved.splitlines()[1:]


def test_check_command_fails_until_every_check_passes(capsys):
    assert check(EXERCISES / "01-post-model.ipynb") == 1
    report = capsys.readouterr().out
    assert "not started yet" in report and "0 of 2 checks passed" in report
    assert check(SOLUTIONS / "01-post-model.ipynb") == 0
    assert "2 of 2 checks passed" in capsys.readouterr().out


def solution_copy(tmp_path, name, cell_start, old, new):
    """A copy of solutions/<name> in tmp_path, with `old` replaced by `new` in the
    code cell whose source starts with `cell_start`: a learner's answer."""
    notebook = nbformat.read(SOLUTIONS / name, as_version=4)
    (cell,) = [
        c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(cell_start)
    ]
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, tmp_path / name)
    return tmp_path / name


def test_check_command_prints_the_whole_verdict_of_a_failing_exercise(tmp_path, capsys):
    notebook = solution_copy(
        tmp_path,
        "01-post-model.ipynb",
        "from social.models import Post",
        'order_by("-created_at", "-pk")',
        'order_by("created_at", "pk")',
    )
    assert check(notebook) == 1
    report = capsys.readouterr().out
    assert "✘ Exercise 1.1 · the newest posts: 3 of 5 behaviours not right yet." in report
    assert "  ✘ newest_bodies(2) returns the newest 2 bodies, newest first" in report
    for label in (
        "sent:     await newest_bodies(2)",
        "expected: [",
        "got:      [",
        "hint:     Order by",
    ):
        assert f"      {label}" in report, report
    assert "  ✔ newest_bodies is an async function that returns a list of strings" in report
    assert "✔ Exercise 1.2 · counting a user's posts: passed." in report
    assert "1 of 2 checks passed" in report


def test_check_command_names_the_exercise_whose_cell_raised_and_counts_its_check(tmp_path, capsys):
    notebook = solution_copy(
        tmp_path,
        "04-hashtags.ipynb",
        "def author_groups_for_signal",
        'yield f"-author-{instance.author_id}"',
        'yeild f"-author-{instance.author_id}"',
    )
    assert check(notebook) == 1
    report = capsys.readouterr().out
    assert (
        "✘ Exercise 4.3 · Following one author (stretch): not checked, because your code cell "
        "raised SyntaxError: invalid syntax\n"
        '      at:   line 3 of cell In[6]: yeild f"-author-{instance.author_id}"\n'
    ) in report, report
    assert "✔ Exercise 4.1" in report and "✔ Exercise 4.2" in report
    assert "2 of 3 checks passed" in report


def test_a_check_cell_that_never_ran_counts_as_failed():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("## Exercise 9.1 · Something"),
        nbformat.v4.new_code_cell("def f():\n    ..."),
        nbformat.v4.new_code_cell("await ch09.check_something(f)"),
    ]
    reports, other_errors = check_reports(notebook)
    assert [(r.exercise, r.passed) for r in reports] == [("Exercise 9.1 · Something", False)]
    assert reports[0].text == "✘ Exercise 9.1 · Something: the check cell did not run."
    assert other_errors == []


def test_check_command_shows_the_learners_exception_and_line_in_their_cell(tmp_path, capsys):
    notebook = solution_copy(
        tmp_path,
        "02-websocket-api.ipynb",
        "from django.contrib.auth import get_user_model",
        "author = get_user_model().objects.filter(username=username).first()",
        "author = get_user_model().objects.get(username=username)",
    )
    assert check(notebook) == 1
    report = capsys.readouterr().out
    assert (
        "✘ Exercise 2.1 · a posts_by action: 1 of 4 behaviours not right yet, 1 not checked."
        in report
    )
    assert "      got:      DoesNotExist: User matching query does not exist.\n" in report
    assert (
        "      at:       line 19 of your cell In[2]: "
        "author = get_user_model().objects.get(username=username)\n"
    ) in report, report
    assert (
        "  · the connection still answers after the 404\n      not checked: an earlier step raised"
        in report
    )
    assert "1 of 2 checks passed" in report
