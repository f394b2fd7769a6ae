import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
ANNA = CORPORA / "anna.txt"
SHAKESPEARE = CORPORA / "tinyshakespeare.txt"

# Built-in corpora are looked up here; tests never download.
os.environ.setdefault("CHARLM_DATA_DIR", str(CORPORA))

needs_anna = pytest.mark.skipif(not ANNA.is_file(), reason="../shared/corpora/anna.txt is not present")


def write_pickle_payload(path: Path, marker: Path) -> None:
    """A pickled file that, if ever unpickled, would create ``marker`` (proof that it ran)."""
    import torch

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"state": Payload()}, path)


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
