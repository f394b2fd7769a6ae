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
