"""A process killed (SIGKILL) while writing checkpoints never leaves one that loads wrong."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from helpers import ROOT

from charlm import latest_checkpoint, list_checkpoints, load_checkpoint

WRITER = textwrap.dedent("""
    import sys, torch
    from charlm import Corpus, preset, save_checkpoint
    from charlm.training.checkpoint import Progress
    from charlm.network.model import CharRNN, ModelConfig
    out = sys.argv[1]
    corpus = Corpus.from_text("abcdefghij" * 50)
    cfg = preset("tiny", hidden_size=768, num_layers=2)
    model = CharRNN(ModelConfig.for_vocab(len(corpus.vocab), hidden_size=768, num_layers=2))  # ~35 MB a file
    step = 0
    print("ready", flush=True)
    while True:
        step += 1
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(step)  # every checkpoint's weights say which step wrote them
        save_checkpoint(out, model, corpus.vocab, cfg, Progress(step=step))
""")


@pytest.mark.slow
def test_sigkill_during_saves_never_leaves_a_bad_checkpoint(tmp_path):
    out = tmp_path / "ckpt"
    delays = [0.05, 0.13, 0.21, 0.34, 0.5, 0.77]
    for delay in delays:
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.stdout.readline().strip() == b"ready"
        deadline = time.time() + 60  # however slow the disk, kill only once a previous checkpoint exists
        while not list_checkpoints(out) and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        # every checkpoint that is listed loads, and holds the weights of the step in its name
        for path in list_checkpoints(out):
            ckpt = load_checkpoint(path)
            step = ckpt.progress.step
            assert path.name == f"i{step}_l768.safetensors"
            assert all(torch.all(p == step) for p in ckpt.model.parameters())
        leftovers = list(out.glob(".*.tmp"))
        assert len(leftovers) <= 2  # at most the one interrupted write (weights or JSON)
    latest = latest_checkpoint(out)
    assert latest is not None, "at least one save finished before a kill"
    load_checkpoint(latest)
