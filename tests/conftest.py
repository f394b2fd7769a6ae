import os

import pytest
from helpers import ANNA, CORPORA

# Built-in corpora are looked up here; tests never download.
os.environ.setdefault("CHARLM_DATA_DIR", str(CORPORA))


def pytest_collection_modifyitems(items):
    """``data`` for every test that reads the shared corpora (through ``anna_text``, ``shakespeare`` or a skip
    that names them)."""
    for item in items:
        reads = {"anna_text", "shakespeare"} & set(getattr(item, "fixturenames", ())) or any(
            "shared/corpora" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")
        )
        if reads:
            item.add_marker(pytest.mark.data)


@pytest.fixture(scope="session")
def anna_text() -> str:
    if not ANNA.is_file():
        pytest.skip("../shared/corpora/anna.txt is not present")
    return ANNA.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright: one per test module (the page tests)."""
    from app_server import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
