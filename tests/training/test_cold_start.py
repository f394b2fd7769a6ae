"""Training also learns to start from a blank memory (issue 17), and the check that measures it."""

import numpy as np
import torch

from charlm import Corpus, preset, train
from charlm.network.model import CharRNN, ModelConfig
from charlm.training.cold_start import cold_starts
from charlm.training.loop import _Run


def blank_rows(state) -> np.ndarray:
    h = state[0] if isinstance(state, tuple) else state
    return (h.abs().sum(dim=(0, 2)) == 0).numpy()


def test_training_clears_a_share_of_the_rows_memories_at_every_batch(anna_text):
    """Today's main cleared a row's memory only at the start of an epoch: a whole epoch of 100 batches went by
    with no blank row. Now about ``cold_start_share`` of them start blank at every batch, the same rows for the
    same seed and step (so resuming stays exact)."""
    corpus = Corpus.from_text(anna_text[:60_000], val_fraction=0.1)
    config = preset("tiny", batch_size=32, num_steps=16, max_steps=100, cold_start_share=0.05, eval_every=0)
    run = _Run(corpus.with_val_fraction(config.val_fraction), config, None, lambda e: None, None)
    cleared, again = [], _Run(corpus.with_val_fraction(config.val_fraction), config, None, lambda e: None, None)
    for _ in range(100):
        run.reason_to_stop(None)
        state = run.carried_state()
        if state is not None:
            cleared.append(blank_rows(state).sum())
            again.state, again.progress.step, again.progress.batch = run.state, run.progress.step, run.progress.batch
            assert torch.equal(again.carried_state()[0], state[0])  # a pure function of seed and step
        run.train_step()
    assert run.progress.epoch == 0 and len(cleared) == 99  # one epoch: the old code never cleared a row here
    assert 0.5 * 0.05 * 32 < np.mean(cleared) < 1.5 * 0.05 * 32
    off = _Run(
        corpus.with_val_fraction(config.val_fraction), config.replace(cold_start_share=0.0), None, lambda e: None, None
    )
    off.train_step()
    off.reason_to_stop(None)
    assert blank_rows(off.carried_state()).sum() == 0


def test_a_run_with_cleared_rows_resumes_bit_for_bit(anna_text, tmp_path):
    corpus = Corpus.from_text(anna_text[:30_000], val_fraction=0.1)
    config = preset("tiny", max_steps=40, epochs=5, cold_start_share=0.1, eval_every=0, save_every=0)
    whole = train(corpus, config)
    half = train(corpus, config.replace(max_steps=20), tmp_path)
    from charlm import load_checkpoint

    resumed = train(corpus, config, resume=load_checkpoint(half.checkpoint))
    assert all(
        torch.equal(a, b) for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values())
    )


def test_the_check_finds_no_stuck_start_where_cold_and_warm_agree():
    """A plain RNN with no recurrent weights has no memory: cold and warm scores are the same, none stuck."""
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(5, cell="rnn", hidden_size=8, num_layers=1)).eval()
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()
    data = np.random.default_rng(0).integers(0, 5, 5_000)
    report = cold_starts(model, data, at=0, starts=50)
    assert report.starts == 50 and report.stuck == 0 and abs(report.mean_gap) < 1e-6
