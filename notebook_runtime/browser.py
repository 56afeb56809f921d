"""Launch Chromium for Playwright: the system's browser, or Playwright's own.

CI and this workbook's machines use Debian's chromium (`apt install chromium`);
Playwright's own download (`playwright install chromium`) works as well on a
laptop. Either way the same flags: headless, no background network chatter.
"""

import os
import shutil

CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
FLAGS = [
    "--no-sandbox",  # Chromium's sandbox refuses to run as root (containers, CI)
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "No Chromium found. Install one: `sudo apt install chromium` (Debian/Ubuntu), "
    "`brew install --cask chromium` (macOS), or `.venv/bin/playwright install chromium`; "
    "or set CHROMIUM_PATH to a Chromium or Chrome executable."
)


def chromium_path() -> str | None:
    """The Chromium to use: $CHROMIUM_PATH, else the first on PATH, else None
    (Playwright's own, if `playwright install chromium` has fetched it)."""
    if os.environ.get("CHROMIUM_PATH"):
        return os.environ["CHROMIUM_PATH"]
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


async def launch_chromium(playwright, extra_args=()):
    """A headless Chromium; raises RuntimeError with INSTALL_HINT if there is none."""
    try:
        return await playwright.chromium.launch(
            executable_path=chromium_path(), args=[*FLAGS, *extra_args]
        )
    except Exception as error:  # Playwright's own browser is missing too
        raise RuntimeError(f"{INSTALL_HINT}\n({type(error).__name__}: {error})") from error
