"""`make book` renders the workbook as a searchable static site, and fails on a broken link.

The site is what a reader opens on GitHub Pages: the README as its first page, the
notebooks 00 to 09 in order with the outputs stored in them, the exercises, the
instructor notes and the solutions; every link and image in it works.
"""

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "book" / "_build" / "html"
BUILD_TIMEOUT = 300  # seconds; the build takes about 10 s, the first install of its tools a minute
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
LOCAL_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']*)["']""")


def make_book(directory: Path, **variables: str) -> subprocess.CompletedProcess:
    command = ["make", "--no-print-directory", "-C", str(directory), "book"]
    command += [f"{name}={value}" for name, value in variables.items()]
    # A make that runs this suite (make test) must not pass its own flags down.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }
    return subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=env)


@pytest.fixture(scope="module")
def site() -> Path:
    """The book as `make book` builds it from the repository."""
    result = make_book(ROOT)
    assert result.returncode == 0, (
        f"make book failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    )
    return SITE


def page_text(path: Path) -> str:
    """What a reader sees of a page: its text without tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def sidebar_pages(page: Path) -> list[str]:
    """The pages of the table of contents, in the order the sidebar lists them."""
    entries = re.findall(
        r'<li class="toctree-l1[^"]*"><a class="reference internal" href="([^"#]*)"',
        page.read_text(),
    )
    return [entry.removesuffix(".html") for entry in entries]


def pages(folder: str, pattern: str = "*") -> list[str]:
    return sorted(
        str(path.relative_to(ROOT).with_suffix(""))
        for path in (ROOT / folder).glob(pattern)
        if path.suffix in {".ipynb", ".md"}
    )


def test_the_book_pins_change_no_pin_of_the_workbook():
    """requirements-book.txt pins every package it shares with requirements.txt at the
    same version, so `make book` installs into .venv without changing what the notebooks
    run with (re-pin it after a `make lock`)."""
    pin = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)
    workbook = dict(pin.findall((ROOT / "requirements.txt").read_text().lower()))
    book = dict(pin.findall((ROOT / "requirements-book.txt").read_text().lower()))
    assert "jupyter-book" in book
    assert {
        name: (version, workbook[name])
        for name, version in book.items()
        if name in workbook and workbook[name] != version
    } == {}


def test_the_site_opens_on_the_readme_whose_next_page_is_notebook_00(site):
    """index.html forwards to the README's page, which links notebook 00 in its table
    and as the "next" page, so a reader goes straight from the first page to the tour."""
    assert "url=README.html" in (site / "index.html").read_text()
    readme = (site / "README.html").read_text()
    assert 'href="notebooks/00-tour.html"' in readme
    next_page = re.search(r'class="right-next"\s+href="([^"]+)"', readme)
    assert next_page and next_page.group(1) == "notebooks/00-tour.html"


def test_the_table_of_contents_lists_notebooks_exercises_instructor_notes_in_order(site):
    """The sidebar: the README, notebooks 00..09 in order, then the exercises, then every
    page of instructors/ (with the offline-workshop page), then the solutions."""
    expected = (
        pages("notebooks", "[0-9]*")
        + ["exercises/README"]
        + pages("exercises", "[0-9]*")
        + pages("instructors")
        + ["book/offline-workshop"]
        + ["solutions/README"]
        + pages("solutions", "[0-9]*")
    )
    assert expected[0] == "notebooks/00-tour"
    assert sidebar_pages(site / "README.html") == expected


@pytest.mark.parametrize("notebook", pages("notebooks", "[0-9]*.ipynb") or ["none"])
def test_each_notebook_page_shows_its_stored_outputs(site, notebook):
    """The book renders the outputs stored in the notebooks (the ones nbval checks), not
    outputs of a run of its own: every stored text output's first line is on the page."""
    cells = nbformat.read(ROOT / f"{notebook}.ipynb", as_version=4).cells
    texts = [
        # streams, and results that have only a text form (a figure shows as its image)
        output.get("text") or output.get("data", {}).get("text/plain", "")
        for cell in cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" or set(output.get("data", {})) == {"text/plain"}
    ]
    lines = [ANSI_COLOUR.sub("", text).strip().splitlines()[0] for text in texts if text.strip()]
    assert lines, f"{notebook} has no stored text output"
    shown = page_text(site / f"{notebook}.html")
    assert [line for line in lines if line not in shown] == []


def test_notebook_00_shows_the_set_up_check_and_the_architecture_diagram(site):
    """The tour's page has its check_setup() report and the architecture SVG, copied
    into the site and referenced from the page."""
    tour = site / "notebooks" / "00-tour.html"
    assert "Closed 0 connection(s)" in page_text(tour)
    assert "check_setup()" in page_text(tour)
    assert (site / "_images" / "architecture.svg").read_bytes() == (
        ROOT / "notebooks" / "images" / "architecture.svg"
    ).read_bytes()
    assert re.search(r'<img [^>]*src="\.\./_images/architecture\.svg"', tour.read_text())


def test_every_link_and_image_of_the_site_opens_something(site):
    """Every relative href and src on every page names a file of the site, and every
    #anchor of a link to another page is an id on that page: links between notebooks,
    to the README and to folders, images, embedded PNG outputs, downloads."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        if page.relative_to(site).parts[0] == "_static":  # the theme's templates
            continue
        for target in LOCAL_LINK.findall(page.read_text()):
            parts = urlsplit(html.unescape(target))
            if parts.scheme or target.startswith("//") or not parts.path:
                continue
            resolved = (page.parent / unquote(parts.path)).resolve()
            if not resolved.is_file():
                broken.append(f"{page.relative_to(site)}: {target}")
            elif parts.fragment and resolved.suffix == ".html":
                if f'id="{parts.fragment}"' not in resolved.read_text():
                    broken.append(f"{page.relative_to(site)}: {target}")
    assert broken == []
    assert len(list((site / "_images").glob("*.png"))) >= 2  # notebook 07's screenshot, 09's plot


def test_the_site_has_a_search_page_and_an_index_of_every_page(site):
    """Sphinx's search.html and searchindex.js: searching finds words of the notebooks."""
    assert (site / "search.html").is_file()
    index_js = (site / "searchindex.js").read_text()
    index = json.loads(index_js[index_js.index("(") + 1 : index_js.rindex(")")])
    assert {
        "README",
        "notebooks/00-tour",
        "notebooks/09-performance",
        "exercises/04-hashtags",
    } <= set(index["docnames"])
    assert {"websocket", "hashtag", "consum"} <= set(index["terms"])


def test_a_broken_link_or_a_missing_image_fails_the_build(tmp_path):
    """`make book` on a copy of the workbook, built once, then changed so that notebook 00
    links a notebook that does not exist and a page shows a missing image, fails and
    names both; and fails again, naming both, when run once more unchanged (a page's
    warning counts even when the page did not change since the last build)."""
    copy = tmp_path / "workbook"
    shutil.copytree(
        ROOT,
        copy,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "_build",
            "wheelhouse",
            "__pycache__",
            ".ipynb_checkpoints",
            "*.sqlite3*",
        ),
    )
    venv = str(ROOT / ".venv")
    first = make_book(copy, VENV=venv)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    tour = copy / "notebooks" / "00-tour.ipynb"
    notebook = nbformat.read(tour, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("[Next](no-such-notebook.ipynb)"))
    nbformat.write(notebook, tour)
    # on another page: Sphinx rereads a page with a missing image every time anyway
    with (copy / "exercises" / "README.md").open("a") as page:
        page.write("\n![A figure](images/no-such-figure.svg)\n")
    for attempt in ("the build after the change", "the build after that"):
        result = make_book(copy, VENV=venv)
        output = result.stdout + result.stderr
        assert result.returncode != 0, f"{attempt} passed:\n{output[-3000:]}"
        assert "no-such-notebook.ipynb" in output, output[-3000:]
        assert "no-such-figure.svg" in output, output[-3000:]
