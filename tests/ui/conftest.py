"""Real-browser fixtures: Playwright for Python driving the machine's Chromium.

Playwright's own browser download cannot work here, so the browser is Debian's ``chromium``
(``CDLAB_CHROMIUM`` names another binary). A machine without it, or without Playwright, fails
with the command that installs what is missing: never a silent pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "output" / "ui"
CHROMIUM = os.environ.get("CDLAB_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which(CHROMIUM)
    if found is None:
        pytest.fail(
            f"No Chromium at {CHROMIUM}: the UI tests drive Debian's chromium package. Install "
            "it with `apt-get install -y chromium` (as root; .ci/run does), or set "
            "CDLAB_CHROMIUM to a Chromium binary.",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright for Python is not installed: pip install -e '.[ui]' (make test-ui does).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    """A full-page screenshot kept under output/ui/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
