"""Every relative link a learner can click in the workbook opens something.

JupyterLab resolves a link in a notebook or a Markdown file against the file's own
folder, and `make lab` serves the repository root; so a link works in the lab iff
the path it names exists in the tree and stays inside it.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
# [text](target "title"), ![alt](target), and href/src attributes in raw HTML.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
FENCED_CODE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def documents() -> list[Path]:
    skip = {".venv", ".git", "node_modules", "_build"}
    return sorted(
        path
        for pattern in ("*.ipynb", "*.md")
        for path in ROOT.rglob(pattern)
        if not skip.intersection(path.relative_to(ROOT).parts)
        and ".ipynb_checkpoints" not in path.parts
    )


def markdown_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    notebook = nbformat.read(path, as_version=4)
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def relative_links(markdown: str) -> list[str]:
    prose = INLINE_CODE.sub("", FENCED_CODE.sub("", markdown))
    targets = MARKDOWN_LINK.findall(prose) + HTML_LINK.findall(prose)
    return [
        target
        for target in targets
        if not urlsplit(target).scheme and not target.startswith(("#", "//"))
    ]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in relative_links(markdown_of(path)):
        resolved = (path.parent / unquote(urlsplit(target).path)).resolve()
        if not resolved.exists() or not resolved.is_relative_to(root):
            broken.append(target)
    return broken


def test_the_link_finder_finds_links_and_ignores_code():
    markdown = (
        "See [the exercises](../exercises/04-hashtags.ipynb#top) and "
        '<img src="images/a.svg">, [a site](https://example.org), [here](#key-points).\n'
        "```\n[not a link](nowhere.md)\n```\n`[also not](nowhere.md)`"
    )
    assert relative_links(markdown) == ["../exercises/04-hashtags.ipynb#top", "images/a.svg"]


def test_a_missing_target_is_reported(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[gone](missing.ipynb) [here](page.md) [outside](../elsewhere.md)")
    (tmp_path.parent / "elsewhere.md").touch()
    assert broken_links(page, root=tmp_path) == ["missing.ipynb", "../elsewhere.md"]


@pytest.mark.parametrize("path", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_tree(path):
    assert broken_links(path) == []


HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def heading_anchors(markdown: str) -> list[str]:
    """The anchors GitHub (and the book, with myst_heading_anchors) give headings."""
    prose = FENCED_CODE.sub("", markdown)
    return [
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in HEADING.findall(prose)
    ]


def in_page_anchors(markdown: str) -> list[str]:
    prose = INLINE_CODE.sub("", FENCED_CODE.sub("", markdown))
    targets = MARKDOWN_LINK.findall(prose) + HTML_LINK.findall(prose)
    return [target[1:] for target in targets if target.startswith("#")]


def test_heading_anchors_are_made_as_github_makes_them():
    assert heading_anchors("## Workshops and hosted use\n## Performance: `make bench`") == [
        "workshops-and-hosted-use",
        "performance-make-bench",
    ]


MARKDOWN_PAGES = [path for path in documents() if path.suffix == ".md"]


@pytest.mark.parametrize("path", MARKDOWN_PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_within_a_page_names_one_of_its_headings(path):
    """A `#section` link jumps somewhere, and no two sections share a title."""
    markdown = path.read_text()
    anchors = heading_anchors(markdown)
    assert [anchor for anchor in in_page_anchors(markdown) if anchor not in anchors] == []
    assert sorted({a for a in anchors if anchors.count(a) > 1}) == []
