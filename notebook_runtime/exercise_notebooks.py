"""Exercise notebooks, single-sourced from their solutions (as nbgrader does it).

    python -m notebook_runtime.exercise_notebooks generate   # solutions/ -> exercises/
    python -m notebook_runtime.exercise_notebooks check NB   # run NB, exit 0 iff all checks pass

In a solution, the code between `### BEGIN SOLUTION` and `### END SOLUTION`
becomes a TODO stub in the exercise, at the same indentation, so the cell still
runs and its check answers "not started yet". Nobody edits exercises/ by hand.
"""
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

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


def verdict_lines(notebook: nbformat.NotebookNode) -> list[str]:
    """The first line of every verdict a check cell showed, in order."""
    lines = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            first = text.strip().split("\n", 1)[0] if text else ""
            if first.startswith((PASSED, FAILED, NOT_STARTED)):
                lines.append(first)
    return lines


def cell_errors(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        f"{output['ename']}: {output['evalue']}"
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def check(path: Path) -> int:
    """Run a notebook in a fresh kernel and report its check verdicts; 0 iff all pass."""
    notebook = execute(nbformat.read(path, as_version=4), path.parent, allow_errors=True)
    verdicts = verdict_lines(notebook)
    errors = cell_errors(notebook)
    for line in verdicts:
        print(line)
    for error in errors:
        print(f"{FAILED} a cell raised {error}")
    passed = sum(line.startswith(PASSED) for line in verdicts)
    print(f"\n{passed} of {len(verdicts)} checks passed in {path}.")
    return 0 if verdicts and passed == len(verdicts) and not errors else 1


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
