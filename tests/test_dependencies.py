"""What the code imports is declared in requirements.in, and what is declared is used.

A module that arrives only because another package depends on it today is gone
the day that package stops: each top-level module imported by the project's code,
its tests and its notebooks must belong to a distribution named in requirements.in
(the book's extension: requirements-book.in).
"""

import ast
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# The project's own top-level modules: the runtime package, the tests, the Django
# project's apps and the book's local Sphinx extension.
LOCAL = {"notebook_runtime", "tests", "config", "social", "manage", "folder_links"}
# Declared but never imported, each for a reason.
USED_WITHOUT_IMPORT = {
    "daphne": "INSTALLED_APPS (its runserver) and `daphne config.asgi:application`",
    "channels-redis": "named by CHANNEL_LAYERS when REDIS_URL is set",
    "psycopg": "Django's PostgreSQL backend, when DATABASE_URL names one",
    "servestatic": "named by MIDDLEWARE when DEBUG is off (serves the page's static files)",
    "jupyterlab": "make lab",
    "jupyter-server-proxy": "a Jupyter server extension: the proxy under <base_url>proxy/",
    "nbval": "a pytest plugin: --nbval in pyproject.toml",
    "pytest-django": "a pytest plugin: DJANGO_SETTINGS_MODULE in pyproject.toml",
    "pytest-asyncio": "a pytest plugin: asyncio_mode in pyproject.toml",
    "pytest-timeout": "a pytest plugin: timeout in pyproject.toml",
    "setuptools": "builds the editable install (pyproject.toml's build-system)",
    "jupyter-book": "make book",
    "ruff": "make lint (part of make test), .pre-commit-config.yaml",
}


def declared(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(canonicalize_name(Requirement(line).name))
    return names


def imports_in(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def notebook_code(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    # IPython's %magics and !commands are not Python.
    lines = [line for cell in cells for line in cell.splitlines()]
    return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))


def third_party_imports(paths) -> set[str]:
    modules = set()
    for path in paths:
        source = notebook_code(path) if path.suffix == ".ipynb" else path.read_text()
        modules |= imports_in(source)
    return {m for m in modules if m not in sys.stdlib_module_names and m not in LOCAL}


def distributions_of(modules) -> dict[str, set[str]]:
    """The distributions that provide each module. A module not installed here (the
    book's sphinx before `make book` has run) is taken to be its own distribution's
    name, so that the answer does not depend on what ran before."""
    owners = metadata.packages_distributions()
    return {
        module: {canonicalize_name(d) for d in owners.get(module, [module])} for module in modules
    }


def code_files():
    folders = ("notebook_runtime", "tests", "tutorial_project")
    python = [path for folder in folders for path in (ROOT / folder).rglob("*.py")]
    notebooks = [
        path
        for folder in ("notebooks", "exercises", "solutions")
        for path in (ROOT / folder).glob("*.ipynb")
    ]
    return python + notebooks


def test_the_import_finder_sees_imports_of_every_form():
    source = "import a.b, c\nfrom d.e import f\nfrom . import g\nfrom .h import i\n"
    assert imports_in(source) == {"a", "c", "d"}


def test_every_imported_module_is_declared():
    wanted = declared(ROOT / "requirements.in")
    undeclared = {
        module: sorted(owners)
        for module, owners in distributions_of(third_party_imports(code_files())).items()
        if not owners & wanted
    }
    assert undeclared == {}, "add these distributions to requirements.in"


def test_the_books_extension_imports_only_what_the_book_declares():
    wanted = declared(ROOT / "requirements.in") | declared(ROOT / "requirements-book.in")
    imported = distributions_of(third_party_imports((ROOT / "book").glob("*.py")))
    assert {m: sorted(d) for m, d in imported.items() if not d & wanted} == {}


def test_every_declared_distribution_is_imported_or_has_a_reason():
    imported = set().union(*distributions_of(third_party_imports(code_files())).values())
    unused = declared(ROOT / "requirements.in") - imported - set(USED_WITHOUT_IMPORT)
    assert unused == set(), (
        "remove these from requirements.in, or say in USED_WITHOUT_IMPORT why they stay"
    )


def test_the_pre_commit_hook_runs_the_pinned_ruff():
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (ruff_hooks,) = [repo for repo in hooks["repos"] if repo["repo"].endswith("/ruff-pre-commit")]
    pins = dict(
        line.split("==")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith(" ")
    )
    assert ruff_hooks["rev"] == f"v{pins['ruff']}"
