"""A link to a folder, like the README's [`exercises/`](exercises/), opens its README.

GitHub shows a folder's README.md under its file list, and JupyterLab opens the folder
in its file browser; MyST knows only documents and files, so it reports such a link as
a missing cross-reference. This extension points a relative link to a folder of the
repository at that folder's README (or index) page in the book. A folder whose README
is not in the book stays a missing reference, so the build still fails on it.
"""

from pathlib import Path

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform

FOLDER_PAGES = ("README", "index")


class FolderLinksToReadme(SphinxTransform):
    # after MyST has made its pending references, before they are resolved
    default_priority = 900

    def apply(self) -> None:
        for node in self.document.findall(addnodes.pending_xref):
            if node.get("reftype") != "myst" or node.get("refdomain"):
                continue
            target, _, anchor = node["reftarget"].partition("#")
            if not target or "://" in target:
                continue
            _, folder = self.env.relfn2path(target, node.get("refdoc", self.env.docname))
            if not Path(folder).is_dir():
                continue
            for page in FOLDER_PAGES:
                docname = self.env.path2doc(str(Path(folder) / f"{page}.md"))
                if docname in self.env.found_docs:
                    node["refdomain"] = "doc"
                    node["reftarget"] = docname
                    node["reftargetid"] = anchor or None
                    break


def setup(app: Sphinx) -> dict:
    app.add_transform(FolderLinksToReadme)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
