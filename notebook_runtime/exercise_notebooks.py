"""Exercise notebooks, single-sourced from their solutions (as nbgrader does it).

    python -m notebook_runtime.exercise_notebooks generate   # solutions/ -> exercises/
    python -m notebook_runtime.exercise_notebooks check NB   # run NB, exit 0 iff all checks pass

In a solution, the code between `### BEGIN SOLUTION` and `### END SOLUTION`
becomes a TODO stub in the exercise, at the same indentation, so the cell still
runs and its check answers "not started yet". Nobody edits exercises/ by hand.
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .checks.verdict import FAILED, NOT_STARTED, PASSED

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
SOLUTION_REGION = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)",
    re.MULTILINE | re.DOTALL,
)
STUB = "{indent}# TODO: your code here\n{indent}raise NotImplementedError()\n"


def strip_solutions(source: str) -> str:
    """The exercise version of one cell's source."""
    return SOLUTION_REGION.sub(lambda m: STUB.format(indent=m["indent"]), source).rstrip("\n")


def exercise_from(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The exercise notebook for a solution notebook, outputs cleared."""
    exercise = nbformat.from_dict(solution)
    for cell in exercise.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
    return exercise


def execute(notebook: nbformat.NotebookNode, directory: Path, allow_errors=False):
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(directory)}},
        allow_errors=allow_errors,
    ).execute()
    return notebook


def generate() -> list[Path]:
    """Write exercises/ from solutions/, executed so their stored outputs are current."""
    written = []
    for solution_path in sorted(SOLUTIONS.glob("*.ipynb")):
        exercise = exercise_from(nbformat.read(solution_path, as_version=4))
        execute(exercise, EXERCISES)
        target = EXERCISES / solution_path.name
        nbformat.write(exercise, target)
        written.append(target)
    return written


EXERCISE_HEADING = re.compile(r"^#+\s*(Exercise \d+\.\d+\b.*?)\s*$", re.MULTILINE)
CHECK_CALL = re.compile(r"\bawait\s+ch\d+\.check_\w+\(")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
# How IPython's traceback names a line of a cell: "Cell In[3], line 5".
CELL_LINE = re.compile(r"Cell In\[(\d+)\], line (\d+)")
# The file and line a SyntaxError's message repeats: "invalid syntax (2368036863.py, line 2)".
SYNTAX_ERROR_PLACE = re.compile(r" \([^()]*, line \d+\)$")


@dataclass
class CheckReport:
    """What one check cell of a run notebook says: its verdict, or why it has none."""

    exercise: str
    text: str
    passed: bool


def verdict_text(cell) -> str | None:
    """The whole verdict a check cell showed, or None."""
    for output in cell.get("outputs", []):
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        if text.strip().startswith((PASSED, FAILED, NOT_STARTED)):
            return text.strip()
    return None


def verdicts(notebook: nbformat.NotebookNode) -> list[str]:
    """Every verdict the notebook's check cells showed, in order."""
    return [text for cell in notebook.cells if (text := verdict_text(cell)) is not None]


def exercise_title(cell) -> str | None:
    """ "Exercise 2.1 · A custom action: posts_by" for an exercise's heading cell."""
    match = EXERCISE_HEADING.search(cell.source)
    return match[1].replace("`", "") if match else None


def is_check_cell(cell) -> bool:
    return cell.cell_type == "code" and bool(CHECK_CALL.search(cell.source))


def cell_error(cell, cells_by_count) -> str | None:
    """ "NameError: name 'f' is not defined", and the line of the notebook that raised
    it (the innermost one in the traceback), if the cell raised."""
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        message = SYNTAX_ERROR_PLACE.sub("", output["evalue"])
        error = f"{output['ename']}: {message}" if message else output["ename"]
        places = CELL_LINE.findall(ANSI_ESCAPE.sub("", "\n".join(output.get("traceback", []))))
        if places:
            count, line = (int(number) for number in places[-1])
            source = cells_by_count.get(count, {}).get("source", "").splitlines()
            if 0 < line <= len(source):
                error += (
                    f"\n      at:   line {line} of cell In[{count}]: {source[line - 1].strip()}"
                )
        return error
    return None


def check_reports(notebook: nbformat.NotebookNode) -> tuple[list[CheckReport], list[str]]:
    """One report per check cell of a run notebook, and the errors of cells that
    belong to no exercise.

    A check cell that raised, or never ran, is a failed check named after its
    exercise: every check of the notebook counts, whether it printed a verdict or not.
    """
    cells_by_count = {
        cell.execution_count: cell
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.execution_count
    }
    exercise, code_error = None, None
    reports, other_errors = [], []
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            exercise, code_error = exercise_title(cell), None  # a new section
        if cell.cell_type != "code":
            continue
        error = cell_error(cell, cells_by_count)
        if is_check_cell(cell):
            reports.append(report(cell, exercise or "A check", error, code_error))
        elif error and exercise:
            code_error = code_error or error
        elif error:
            other_errors.append(f"{FAILED} A cell outside the exercises raised {error}")
    return reports, other_errors


def report(cell, exercise: str, error: str | None, code_error: str | None) -> CheckReport:
    text = verdict_text(cell)
    if text is not None:
        return CheckReport(exercise, text, text.startswith(PASSED))
    if code_error is not None:
        text = (
            f"{FAILED} {exercise}: not checked, because your code cell raised {code_error}\n"
            "      hint: fix that, then run the notebook again: the check needs your cell to run first."
        )
    elif error is not None:
        text = (
            f"{FAILED} {exercise}: the check cell raised {error}\n"
            "      hint: the check calls your code by the names the exercise gives it; keep those names."
        )
    elif cell.get("execution_count") is None:
        text = f"{FAILED} {exercise}: the check cell did not run."
    else:
        text = f"{FAILED} {exercise}: the check cell showed no verdict; keep it as the notebook had it."
    return CheckReport(exercise, text, False)


def check(path: Path) -> int:
    """Run a notebook in a fresh kernel and print every check's verdict in full;
    0 iff every check passed and no cell raised."""
    notebook = nbformat.read(path, as_version=4)
    stopped = None
    try:
        execute(notebook, path.parent, allow_errors=True)
    except (CellTimeoutError, DeadKernelError) as error:  # the cells after it never ran
        stopped = f"{FAILED} The notebook stopped early: {type(error).__name__}: {str(error).strip()[:200]}"
    reports, other_errors = check_reports(notebook)
    for text in [report.text for report in reports] + other_errors:
        print(text, end="\n\n")
    if stopped:
        print(stopped, end="\n\n")
    passed = sum(report.passed for report in reports)
    print(f"{passed} of {len(reports)} checks passed in {path}.")
    errors = other_errors or stopped or any(cell_error(cell, {}) for cell in notebook.cells)
    return 0 if reports and passed == len(reports) and not errors else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["generate"] and len(argv) == 1:
        for target in generate():
            print(f"wrote {target.relative_to(ROOT)}")
        return 0
    if argv[:1] == ["check"] and len(argv) == 2:
        return check(Path(argv[1]).resolve())
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
