"""A pytest plugin for the notebooks that nbval runs in `make test`.

Two notebooks need programs a learner's machine may lack: skip them there with a
hint, as the tests do; in CI (CI set) run them. It lives here, loaded by
`-p tests.notebook_plugin` in pyproject.toml, rather than as a conftest.py in
notebooks/, so that the folder learners browse holds only their notebooks.
"""

import os
import shutil

import pytest

from notebook_runtime.browser import INSTALL_HINT, chromium_path
from notebook_runtime.processes import REDIS_HINT

NEEDS = {
    "07-live-page.ipynb": (lambda: chromium_path() is not None, INSTALL_HINT),
    "08-scale-out.ipynb": (lambda: shutil.which("redis-server") is not None, REDIS_HINT),
}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CI"):
        return
    for item in items:
        available, hint = NEEDS.get(item.path.name, (None, None))
        if available is not None and not available():
            item.add_marker(pytest.mark.skip(reason=hint))
