"""Fixtures shared by the test files."""
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run: Playwright's sync API allows one running instance per
    process, so every browser test shares this one."""
    playwright = pytest.importorskip("playwright.sync_api")
    from test_site import CHROMIUM, CHROMIUM_FLAGS
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no browser at {CHROMIUM}: apt-get install chromium, or set LAMA_CHROMIUM")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
