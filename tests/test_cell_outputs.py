"""Output lands under the cell that caused it, as JupyterLab shows it.

JupyterLab (and any Jupyter front end) puts an output message under the cell whose
request it names as its parent. nbval and nbclient only listen to the cell that is
running, so output addressed to an earlier cell escapes them; this test listens to
every message of a real kernel for the whole run, as the browser does.
"""

from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SERVER_ERROR = "Exception in ASGI application"


def outputs_by_cell(path: Path, timeout: float = 60) -> dict[int, list[dict]]:
    """Run every code cell of a notebook in a fresh kernel; return each cell's
    output messages, attributed by their parent request as a front end does."""
    notebook = nbformat.read(path, as_version=4)
    kernel, client = start_new_kernel(kernel_name="python3", cwd=str(path.parent))
    cell_of_request: dict[str, int] = {}
    outputs: dict[int, list[dict]] = {}
    try:
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            request = client.execute(cell.source)
            cell_of_request[request] = index
            while True:  # iopub is ordered: "idle" for this request comes last
                message = client.get_iopub_msg(timeout=timeout)
                parent = message["parent_header"].get("msg_id")
                kind = message["msg_type"]
                if kind in ("stream", "error", "execute_result", "display_data"):
                    outputs.setdefault(cell_of_request.get(parent, -1), []).append(message)
                if (
                    parent == request
                    and kind == "status"
                    and message["content"]["execution_state"] == "idle"
                ):
                    break
            reply = client.get_shell_msg(timeout=timeout)
            assert reply["content"]["status"] == "ok", (index, reply["content"])
    finally:
        client.stop_channels()
        kernel.shutdown_kernel(now=True)
    return outputs


def cells_containing(outputs, text: str) -> list[int]:
    return sorted(
        index
        for index, messages in outputs.items()
        for message in messages
        if text in message["content"].get("text", "")
    )


def test_a_server_error_shows_under_the_cell_that_caused_it():
    path = NOTEBOOKS / "02-websocket-api.ipynb"
    notebook = nbformat.read(path, as_version=4)
    culprit = next(
        index for index, cell in enumerate(notebook.cells) if 'send_text("hello?")' in cell.source
    )
    outputs = outputs_by_cell(path)
    assert cells_containing(outputs, SERVER_ERROR) == [culprit]
    line = next(
        message["content"]
        for message in outputs[culprit]
        if SERVER_ERROR in message["content"].get("text", "")
    )
    assert line["name"] == "stderr"
    assert -1 not in outputs, "output addressed to no cell of the notebook"
