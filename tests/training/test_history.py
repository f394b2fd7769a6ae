"""The loss history is stored once per run: checkpoints carry a bounded curve, so disk grows linearly."""

import itertools
import threading

import pytest

import charlm.training.history
from charlm import Corpus, StepEvent, latest_checkpoint, load_checkpoint, preset, train
from charlm.training.checkpoint import list_checkpoints
from charlm.training.history import HISTORY_FILE, read_history, thin

TEXT = "Happy families are all alike; every unhappy family is unhappy in its own way. " * 40


def test_thin_keeps_a_nested_grid_and_the_last_point():
    points = [(s, float(s)) for s in range(1, 1001)]
    once = thin(points, 100)
    assert len(once) <= 100 and once[-1] == (1000, 1000.0) and once[0][0] > 1
    strides = {b[0] - a[0] for a, b in itertools.pairwise(once[:-1])}
    assert len(strides) == 1  # one power-of-two stride
    stride = strides.pop()
    assert stride & (stride - 1) == 0
    assert thin([*points, (1001, 0.5)], 100)[:-1] == once[:-1]  # a longer run keeps the same grid
    assert thin(points[:50], 100) == points[:50]  # short curves are kept whole


@pytest.fixture
def small_curves(monkeypatch):
    monkeypatch.setattr(charlm.training.history, "CURVE_POINTS", 8)


def test_checkpoints_stay_the_same_size_and_the_log_holds_every_step(tmp_path, small_curves):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset("tiny", max_steps=80, save_every=10, eval_every=10, epochs=50, keep_checkpoints=0)
    result = train(corpus, cfg, tmp_path)
    sizes = [p.with_suffix(".json").stat().st_size for p in list_checkpoints(tmp_path)]
    assert len(sizes) == 8
    assert sizes[-1] < 1.25 * sizes[2]  # step 80's description is no larger than step 30's (give or take digits)
    for path in list_checkpoints(tmp_path):
        progress = load_checkpoint(path).progress
        assert len(progress.train_loss) <= 8 and len(progress.val_loss) <= 8
    last = load_checkpoint(tmp_path)
    assert len(last.progress.train_loss) <= 8 and last.progress.train_loss[-1] == result.progress.train_loss[-1]
    lines = (tmp_path / HISTORY_FILE).read_text().splitlines()
    assert lines[0] == "step,kind,loss" and len(lines) == 1 + 80 + 8  # each step once, each evaluation once
    assert read_history(tmp_path, 80) == (result.progress.train_loss, result.progress.val_loss)


def test_resume_in_its_folder_gets_the_whole_history_back(tmp_path, small_curves):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset("tiny", max_steps=40, save_every=10, eval_every=10, epochs=50)
    straight = train(corpus, cfg, tmp_path / "a")
    stop = threading.Event()
    train(
        corpus,
        cfg,
        tmp_path / "b",
        stop=stop,
        on_event=lambda e: stop.set() if isinstance(e, StepEvent) and e.step == 25 else None,
    )
    train(corpus, cfg.replace(max_steps=30), tmp_path / "b", resume=load_checkpoint(tmp_path / "b" / "i20_l64"))
    # an abandoned continuation past step 20 is dropped when resuming from step 20 again
    resumed = train(corpus, cfg, tmp_path / "b", resume=load_checkpoint(tmp_path / "b" / "i20_l64"))
    assert resumed.progress.train_loss == straight.progress.train_loss
    assert resumed.progress.val_loss == straight.progress.val_loss
    assert (tmp_path / "b" / HISTORY_FILE).read_text() == (tmp_path / "a" / HISTORY_FILE).read_text()


def test_a_checkpoint_alone_still_draws_its_curve(tmp_path, small_curves):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset("tiny", max_steps=30, save_every=30, epochs=50)
    train(corpus, cfg, tmp_path / "run")
    alone = tmp_path / "shared"
    alone.mkdir()
    ckpt = latest_checkpoint(tmp_path / "run")
    (alone / ckpt.name).write_bytes(ckpt.read_bytes())  # the one file a student shares
    resumed = train(corpus, cfg.replace(max_steps=35), tmp_path / "next", resume=load_checkpoint(alone / ckpt.name))
    steps = [s for s, _ in resumed.progress.train_loss]
    assert steps[-6:] == [30, 31, 32, 33, 34, 35] and len(steps) <= 8 + 5


def test_the_best_validation_step_is_read_from_the_runs_history(tmp_path):
    from charlm.training.history import append_history, best_validation_step

    assert best_validation_step(tmp_path) is None  # no history yet
    append_history(tmp_path, [(1, 4.0), (2, 3.0)], [(2, 2.9)])
    append_history(tmp_path, [(3, 2.0), (4, 1.0)], [(4, 2.5)])
    append_history(tmp_path, [(5, 0.5), (6, 0.2)], [(6, 2.8)])  # over-fitting: validation rises again
    assert best_validation_step(tmp_path) == 4
