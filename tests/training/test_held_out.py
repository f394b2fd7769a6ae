"""Numbers a teacher can quote (issue 17): every held-out character scored once, the best checkpoint kept,
early stopping, and a resumed run of a new length whose learning rate does not jump back up."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from charlm import Corpus, load_checkpoint, preset, train
from charlm.data.batches import Batches
from charlm.data.corpora import load_builtin
from charlm.network.model import CharRNN, ModelConfig
from charlm.training.checkpoint import best_checkpoint
from charlm.training.evaluate import WARM_UP, WHOLE_WINDOW, operations_per_char, score_held_out, spread_starts
from charlm.training.loop import StepEvent
from charlm.training.schedule import learning_rate_at, reanchor
from tests.helpers import ROOT, needs_anna


def one_stream_loss(model: CharRNN, data: np.ndarray) -> float:
    """The independent yardstick: the whole part read as one stream by the plain torch layers."""
    with torch.no_grad():
        x = torch.from_numpy(data[:-1]).unsqueeze(0)
        out, _ = model.rnn(model.encode_input(x), model.init_state(1))
        return F.cross_entropy(model.decoder(out)[0], torch.from_numpy(data[1:])).item()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CharRNN(ModelConfig(12, hidden_size=24, num_layers=2)).eval()


@pytest.mark.parametrize("length", [2, 50, 97, 4 * 5 * 7 + 1, 1000])
def test_every_held_out_character_is_scored_once(model, length):
    data = np.random.default_rng(length).integers(0, 12, length)
    one_row = score_held_out(model, data, rows=1, num_steps=7)
    assert one_row.chars == length - 1
    assert one_row.loss == pytest.approx(one_stream_loss(model, data), abs=1e-5)
    rows = score_held_out(model, data, rows=4, num_steps=5)
    assert rows.chars == length - 1  # the characters past the last whole row are scored too


def test_windows_that_would_cover_the_part_score_all_of_it(model):
    data = np.random.default_rng(1).integers(0, 12, 4 * 5 * 6 + 1)  # 4 rows of 6 windows of 5, exactly
    assert score_held_out(model, data, 4, 5, windows=6) == score_held_out(model, data, 4, 5)
    assert score_held_out(model, data, 4, 5, windows=50) == score_held_out(model, data, 4, 5)


def test_whole_windows_leave_characters_out_and_the_whole_score_does_not(model):
    """What the old figure did: N×M windows only, up to N·M − 1 characters dropped (here 109 of 229)."""
    data = np.random.default_rng(2).integers(0, 12, 230)
    windows = Batches(data, 4, 30)
    assert len(windows) * 4 * 30 == 120 and windows.dropped == 110
    assert score_held_out(model, data, 4, 30).chars == 229


def test_the_periodic_subset_is_its_spread_windows_each_read_after_the_text_before_it(model):
    """Checked against the plain layers: each window of each row, from a blank memory that first reads the
    256 characters before the window in the stream."""
    data = np.random.default_rng(3).integers(0, 12, 3 * 2000 + 1)  # 3 rows of 2,000
    starts = spread_starts(2000, 20, 2)
    assert starts == [490, 1490]
    subset = score_held_out(model, data, rows=3, num_steps=20, windows=2)
    assert subset.chars == 3 * 2 * 20
    losses = []
    for row, start in itertools.product(range(3), starts):
        at = row * 2000 + start
        with torch.no_grad():
            x = torch.from_numpy(data[at - WARM_UP : at + 20]).unsqueeze(0)
            out, _ = model.rnn(model.encode_input(x), model.init_state(1))
            scores = model.decoder(out)[0, WARM_UP:]
        losses.append(F.cross_entropy(scores, torch.from_numpy(data[at + 1 : at + 21]), reduction="sum").item())
    assert subset.loss == pytest.approx(sum(losses) / subset.chars, abs=1e-5)


def test_spread_windows_never_overlap_and_stay_in_the_row():
    for length, num_steps, windows in [(100, 10, 10), (101, 7, 3), (3101, 128, 10), (1985, 100, 1)]:
        starts = spread_starts(length, num_steps, windows)
        assert starts == sorted(starts) and starts[0] >= 0 and starts[-1] + num_steps <= length
        assert all(b - a >= num_steps for a, b in itertools.pairwise(starts))


@needs_anna
def test_the_periodic_subset_reads_like_the_whole_held_out_part_of_the_novel():
    """The novel's held-out part ends in Project Gutenberg's licence, scored far worse than the prose: a subset
    of the first windows of each row read 0.07 nats/char from the whole figure; spread, within 0.03 (the quick
    preset's 10 windows of 64 in 32 rows, 20,480 of 198,521 characters)."""
    model = load_checkpoint(ROOT / "assets" / "anna-quick-1x256.safetensors").model
    data = load_builtin("anna-karenina").val_data
    whole = score_held_out(model, data, 32, 64).loss
    assert abs(score_held_out(model, data, 32, 64, windows=10).loss - whole) < 0.03
    assert abs(score_held_out(model, data, 100, 100, windows=10).loss - whole) < 0.03


@pytest.fixture(scope="module")
def overfitting_run(anna_text, tmp_path_factory):
    """A small text trained far too long: validation falls, then rises."""
    out = tmp_path_factory.mktemp("overfit")
    corpus = Corpus.from_text(anna_text[:6000], val_fraction=0.2)
    cfg = preset(
        "tiny",
        hidden_size=128,
        batch_size=8,
        num_steps=32,
        epochs=400,
        max_steps=600,
        eval_every=20,
        eval_batches=0,
        save_every=0,
        keep_checkpoints=2,
        learning_rate=1e-2,
        patience=4,
        val_fraction=0.2,
    )
    return train(corpus, cfg, out), out


@pytest.mark.slow
def test_early_stopping_ends_a_run_that_stopped_improving(overfitting_run):
    result, _ = overfitting_run
    vals = [v for _, v in result.progress.val_loss]
    best = vals.index(min(vals))
    assert result.reason == "early_stop" and result.progress.step < 600
    assert len(vals) - 1 - best == 4  # it stopped after exactly `patience` validations without a new best


def test_the_best_checkpoint_is_kept_beside_the_latest(overfitting_run):
    result, out = overfitting_run
    best_step, best_val = min(result.progress.val_loss, key=lambda p: p[1])
    path = best_checkpoint(out)
    assert path is not None and path.stem.startswith(f"i{best_step}_")
    assert load_checkpoint(path).progress.val_loss[-1] == (best_step, best_val)
    assert result.checkpoint.is_file() and result.checkpoint != path  # the latest is there too
    assert result.progress.held_out[2] == round(6000 * 0.2) - 1  # and the final figure covers every character


def test_resuming_with_a_longer_run_goes_on_decaying(anna_text, tmp_path):
    """A cosine run stopped at step 30 of 60, resumed with --max-steps 120: the rate goes on from where it was
    (no jump back up), decays to the floor at 120, and a resume of the same length is unchanged."""
    corpus = Corpus.from_text(anna_text[:20_000], val_fraction=0.1)
    cfg = preset("tiny", lr_schedule="cosine", learning_rate=1e-2, max_steps=60, epochs=10, eval_every=0, save_every=0)
    first = train(corpus, cfg.replace(max_steps=60), tmp_path, stop=_stop_after(30))
    assert first.progress.step == 30
    before = learning_rate_at(cfg, 29, 60)
    lrs = []
    second = train(
        corpus,
        cfg.replace(max_steps=120),
        tmp_path,
        resume=load_checkpoint(first.checkpoint),
        on_event=lambda e: lrs.append(e.learning_rate) if isinstance(e, StepEvent) else None,
    )
    assert second.progress.step == 120 and second.progress.lr_anchor[0] == 30
    assert lrs[0] <= before and all(a >= b for a, b in itertools.pairwise(lrs))  # never back up
    assert lrs[-1] == pytest.approx(1e-3, rel=0.01)  # the floor at the new end
    assert reanchor(cfg, 30, 60, 60, None) is None  # the same length: the schedule is untouched


def test_a_run_resumed_past_its_end_goes_on_at_the_floor():
    cfg = preset("tiny", lr_schedule="cosine", learning_rate=1e-2)
    anchor = reanchor(cfg, 60, 60, 120, None)
    assert all(learning_rate_at(cfg, s, 120, anchor) == pytest.approx(1e-3) for s in (60, 90, 119))


def _stop_after(steps: int):
    """A stop event that sets itself once ``steps`` steps are done (checked at each step boundary)."""

    class After:
        def __init__(self):
            self.calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            return self.calls > steps

    return After()


def test_short_windows_are_scored_in_long_ones_with_the_same_figure(model):
    """A run trained with M = 1 is not scored one character per call: the state is carried exactly along each
    row, so the windows' length does not change the figure."""
    data = np.random.default_rng(4).integers(0, 12, 3001)
    assert score_held_out(model, data, 1, 1).loss == pytest.approx(one_stream_loss(model, data), abs=1e-5)
    assert score_held_out(model, data, 4, 1).loss == pytest.approx(score_held_out(model, data, 4, 300).loss, abs=1e-6)


def test_a_budget_scores_every_character_when_it_can_and_spread_windows_when_it_cannot(model):
    """Stop's final figure on a big model must not hold a training place for minutes: within its budget of
    operations the whole part, past it the spread windows the budget pays for (with the warm-up they read),
    said as a part; the same windows as the periodic subset of that many, so the figure is reproducible."""
    data = np.random.default_rng(5).integers(0, 12, 4 * 3000 + 1)
    per_char = operations_per_char(model)
    assert per_char == 2 * sum(p.numel() for p in model.parameters())
    whole = score_held_out(model, data, 4, 10)
    assert score_held_out(model, data, 4, 10, budget=per_char * 12_000) == whole and whole.whole
    budget = per_char * 4 * 3 * (WARM_UP + WHOLE_WINDOW)  # three windows of 128 per row, each after its warm-up
    part = score_held_out(model, data, 4, 10, budget=budget)
    assert not part.whole and (part.chars, part.held_out_chars) == (4 * 3 * WHOLE_WINDOW, 12_000)
    assert part == score_held_out(model, data, 4, WHOLE_WINDOW, windows=3)
    assert part.chars * per_char <= budget  # what it scored, and (with the warm-ups) what it read, fit
    tiny = score_held_out(model, data, 4, 10, budget=1)  # a budget below one window still gives a figure
    assert tiny.chars == 4 * WHOLE_WINDOW and np.isfinite(tiny.loss)
