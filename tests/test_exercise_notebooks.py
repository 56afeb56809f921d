"""exercises/ is generated from solutions/: it must be what the generator makes."""
import nbformat
import pytest

from notebook_runtime.exercise_notebooks import (
    EXERCISES,
    SOLUTIONS,
    exercise_from,
    strip_solutions,
    verdict_lines,
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
    solution_verdicts = verdict_lines(nbformat.read(solution_path, as_version=4))
    exercise_verdicts = verdict_lines(nbformat.read(EXERCISES / solution_path.name, as_version=4))
    assert solution_verdicts and all(line.startswith("✔") for line in solution_verdicts)
    assert len(exercise_verdicts) == len(solution_verdicts)
    assert all("not started yet" in line for line in exercise_verdicts)


def test_check_command_fails_until_every_check_passes(capsys):
    from notebook_runtime.exercise_notebooks import check

    assert check(EXERCISES / "01-post-model.ipynb") == 1
    report = capsys.readouterr().out
    assert "not started yet" in report and "0 of 2 checks passed" in report
    assert check(SOLUTIONS / "01-post-model.ipynb") == 0
    assert "2 of 2 checks passed" in capsys.readouterr().out
