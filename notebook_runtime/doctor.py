"""Is this machine ready for the workbook? A checklist, each problem with its fix.

    from notebook_runtime import check_setup
    check_setup()          # in a notebook: the checklist, as notebook 00 shows it

Each check returns a Finding; `required` ones must pass for the notebooks to run.
"""
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_PYTHONS = ((3, 11), (3, 13))
# The packages a learner may want to quote when asking for help.
KEY_PACKAGES = (
    "django",
    "channels",
    "daphne",
    "djangochannelsrestframework",
    "djangorestframework",
    "uvicorn",
    "websockets",
)
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


@dataclass
class Finding:
    """One line of the checklist."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def __str__(self) -> str:
        mark = "✔" if self.ok else ("✘" if self.required else "!")
        line = f"{mark} {self.name}: {self.detail}"
        return line if self.ok else f"{line}\n    fix: {self.fix}"


@dataclass
class Report:
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """Everything a notebook needs is there."""
        return all(finding.ok for finding in self.findings if finding.required)

    def __str__(self) -> str:
        return "\n".join(str(finding) for finding in self.findings)

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


def python_version() -> Finding:
    low, high = SUPPORTED_PYTHONS
    running = sys.version_info[:2]
    return Finding(
        "Python",
        low <= running <= high,
        f"{running[0]}.{running[1]} (the workbook supports {low[0]}.{low[1]} to {high[0]}.{high[1]})",
        fix="Install Python 3.11, 3.12 or 3.13, then: make clean && make PYTHON=python3.12 lab",
    )


def pinned_packages(requirements: Path = ROOT / "requirements.txt") -> Finding:
    """Every pin of requirements.txt is the version installed."""
    wrong = []
    pins = 0
    for line in requirements.read_text().splitlines():
        match = PINNED.match(line.strip())
        if not match:
            continue
        pins += 1
        name, wanted = match.groups()
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != wanted:
            wrong.append(f"{name} {installed} (pinned {wanted})")
    return Finding(
        "Pinned packages",
        not wrong,
        f"all {pins} pins of requirements.txt installed"
        if not wrong
        else f"{len(wrong)} of {pins} differ: " + ", ".join(wrong[:5]) + (" ..." if len(wrong) > 5 else ""),
        fix="make install (or: pip install -r requirements.txt in this environment)",
    )


def key_package_versions() -> Finding:
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in KEY_PACKAGES)
    return Finding("Versions", True, versions)


def database() -> Finding:
    """The database Django is set up with has every migration applied."""
    from .database import has_table, unapplied_migrations
    from .django_setup import run_sync

    unapplied = run_sync(unapplied_migrations)
    has_posts = run_sync(has_table, "social_post")
    return Finding(
        "Database",
        not unapplied and has_posts,
        "every migration applied, the Post table exists"
        if not unapplied and has_posts
        else f"unapplied migrations: {', '.join(unapplied) or 'none'}; Post table: {has_posts}",
        fix="setup_django() migrates a notebook's database; for `make serve`: make migrate",
    )


def check_setup() -> Report:
    """The checklist notebook 00 shows: Python, the pins, the database."""
    return Report([python_version(), pinned_packages(), key_package_versions(), database()])
