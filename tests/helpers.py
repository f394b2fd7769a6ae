"""What several test folders share: where the project and the shared corpora are, a mark for tests that need
the novel, and a hostile pickle (tests import these by name; the fixtures are in conftest.py)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
ANNA = CORPORA / "anna.txt"
SHAKESPEARE = CORPORA / "tinyshakespeare.txt"

needs_anna = pytest.mark.skipif(not ANNA.is_file(), reason="../shared/corpora/anna.txt is not present")


def write_pickle_payload(path: Path, marker: Path) -> None:
    """A pickled file that, if ever unpickled, would create ``marker`` (proof that it ran)."""
    import torch

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"state": Payload()}, path)


def diverge_at(monkeypatch, step: int) -> None:
    """Make the loss turn NaN at training step ``step`` (as a learning rate far too high would), with
    ``monkeypatch`` undoing it after the test."""
    from charlm import CharRNN

    original, calls = CharRNN.forward, {"n": 0}

    def poisoned(self, x, state=None, **kwargs):
        logits, state = original(self, x, state, **kwargs)
        if self.training:
            calls["n"] += 1
            if calls["n"] == step:
                logits = logits * float("nan")
        return logits, state

    monkeypatch.setattr(CharRNN, "forward", poisoned)
