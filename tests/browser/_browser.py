"""Launch Debian's chromium through Playwright (never `playwright install`), or say how to get one."""

from __future__ import annotations

import os
import shutil
from typing import Any

CHROMIUM = os.environ.get("INSPECTOR_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL = (
    "no browser: install Debian's chromium (apt-get install -y chromium) and playwright (pip install -e '.[test]')"
)


def missing() -> str | None:
    """Why a browser cannot start here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return INSTALL
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return INSTALL
    return None


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
