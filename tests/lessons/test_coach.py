"""The coach reads real runs: the three cases a class meets (a 3 KB text, a Chinese text that over-fits, a
learning rate of 0.1), each trained here at a small size, and says so in English and in Chinese."""

import random
from dataclasses import replace

import pytest
from helpers import SHAKESPEARE

from charlm import Corpus, preset
from charlm.lessons.coach import RunFacts, diagnose
from charlm.training.events import EvalEvent, StepEvent
from charlm.training.loop import train
from demo import views

ZH = "zh-CN"


def run(corpus: Corpus, config):
    """Train; return what the coach sees: facts, the loss curves and the clipping record."""
    events = []
    train(corpus, config, None, on_event=events.append)
    steps = [e for e in events if isinstance(e, StepEvent)]
    return (
        RunFacts.of(corpus, config),
        [(e.step, e.loss) for e in steps],
        [(e.step, e.val_loss) for e in events if isinstance(e, EvalEvent)],
        [e.grad_norm > config.grad_clip for e in steps],
    )


@pytest.fixture(scope="module")
def shakespeare() -> str:
    if not SHAKESPEARE.is_file():
        pytest.skip("../shared/corpora/tinyshakespeare.txt is not present")
    return SHAKESPEARE.read_text(encoding="utf-8")


def chinese_words_text(n_words: int = 5000, seed: int = 0) -> str:
    """About 11,000 characters of 400 made-up Chinese "words" over 300 characters: enough pattern to learn,
    little enough text for a 256-unit model to learn by heart."""
    rng = random.Random(seed)
    chars = [chr(0x4E00 + i * 37) for i in range(300)]
    words = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 3))) for _ in range(400)]
    return "".join(
        rng.choice(words) + ("。\n" if rng.random() < 0.08 else "，" if rng.random() < 0.1 else "")
        for _ in range(n_words)
    )


@pytest.mark.slow
def test_a_3kb_text_is_too_little_for_the_model(shakespeare):
    corpus = Corpus.from_text(shakespeare[:3000], 0.1, name="3kb.txt")
    facts, train_loss, val_loss, clipped = run(corpus, replace(preset("quick"), eval_every=10))
    findings = diagnose(facts, train_loss, val_loss, clipped, finished=True)
    assert findings[0].key == "little_text" and findings[0].numbers["batches"] == 1
    english, chinese = views.coach_text(findings, "en"), views.coach_text(findings, ZH)
    assert "Too little text for this model: 2,700 training characters (batches per epoch: 1)" in english
    assert "对这个模型来说文本太少：每轮只有 1 个小批量，2,700 个训练字符" in chinese


@pytest.mark.slow
def test_a_chinese_text_that_overfits_is_caught_with_its_best_step():
    corpus = Corpus.from_text(chinese_words_text(), 0.1, name="中文.txt")
    config = replace(preset("quick"), eval_every=25, max_steps=200)
    facts, train_loss, val_loss, clipped = run(corpus, config)
    findings = diagnose(facts, train_loss, val_loss, clipped, finished=True)
    overfit = next(f for f in findings if f.key == "overfitting")
    best_step = overfit.numbers["best_step"]
    assert best_step < val_loss[-1][0] and overfit.numbers["last"] > overfit.numbers["best"] + 0.05
    assert overfit.numbers["train"] < overfit.numbers["best"] - 0.3  # training kept falling, far below
    assert f"过拟合：验证损失在第 {best_step} 步最低" in views.coach_text(findings, ZH)
    assert f"Over-fitting: the validation loss was lowest at step {best_step}" in views.coach_text(findings, "en")


@pytest.mark.slow
def test_a_learning_rate_of_0_1_is_stuck_at_the_letter_frequencies_and_named_as_the_cause(shakespeare):
    corpus = Corpus.from_text(shakespeare[:200_000], 0.1, name="shakespeare")
    config = replace(preset("quick"), max_steps=300, eval_every=100)
    high = diagnose(*run(corpus, replace(config, learning_rate=0.1)), finished=True)
    assert high[0].key == "lr_high" and high[0].numbers["now"] > high[0].numbers["unigram"] - 0.15
    assert "A learning rate of 0.1 is too high" in views.coach_text(high, "en")
    assert "学习率 0.1 太高了" in views.coach_text(high, ZH)
    usual = diagnose(*run(corpus, config), finished=True)  # the preset's own 0.004: no such finding
    assert not {f.key for f in usual} & {"lr_high", "stuck", "lr_low", "little_text"}


FACTS = RunFacts(
    train_chars=1_000_000,
    batches_per_epoch=500,
    parameters=300_000,
    unigram_entropy=3.3,
    learning_rate=0.004,
    grad_clip=5.0,
)


def curve(values):
    return list(enumerate(values, start=1))


def test_a_loss_climbing_back_up_is_diverging():
    losses = [3.0 - i * 0.01 for i in range(150)] + [1.5 + i * 0.02 for i in range(100)]
    assert diagnose(FACTS, curve(losses), [])[0].key == "diverging"


def test_clipping_on_most_steps_is_noted_and_a_still_falling_run_is_underfitting():
    falling = [3.0 - i * 0.004 for i in range(300)]
    val = [(100, 2.7), (200, 2.3), (300, 1.85)]
    assert [f.key for f in diagnose(FACTS, curve(falling), val, [True] * 300)] == ["clipping"]
    assert [f.key for f in diagnose(FACTS, curve(falling), val, [False] * 300, finished=True)] == ["underfitting"]
    assert [f.key for f in diagnose(FACTS, curve(falling), val, [False] * 300)] == ["learning"]  # live: fine so far
