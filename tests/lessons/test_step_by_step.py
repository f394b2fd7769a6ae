"""One batch and one character at a time are the same steps as training and generating, each stage shown."""

from dataclasses import replace

import numpy as np
import pytest

from charlm import Corpus, load_checkpoint, preset
from charlm.lessons.step_by_step import OneBatch, OneCharacter
from charlm.network.model import CharRNN, ModelConfig
from charlm.sampling.sampler import Sampler
from charlm.training.events import StepEvent
from charlm.training.loop import train

TEXT = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness. "
) * 60


@pytest.fixture(scope="module")
def corpus():
    return Corpus.from_text(TEXT, 0.1, name="two-cities")


CONFIG = replace(preset("quick"), hidden_size=48, batch_size=8, num_steps=32, learning_rate=0.01)


def test_one_batch_at_a_time_takes_the_training_runs_own_steps(corpus):
    events = []
    config = replace(CONFIG, max_steps=5, eval_every=0, sample_every=0)
    train(corpus, config, None, on_event=events.append)
    logged = [e.loss for e in events if isinstance(e, StepEvent)]
    stepper = OneBatch(corpus, config)
    steps = [stepper.step() for _ in range(5)]
    assert [s.loss for s in steps] == logged  # the same seed, the same batches, the same numbers
    first = steps[0]
    assert (first.step, first.epoch, first.batch) == (1, 1, 0) and first.first_input == TEXT[:32]
    assert first.loss_after < first.loss_before  # the update went downhill on the batch it came from
    assert first.change > 0 and 0 < first.relative_change < 1
    assert first.grad_norm_after == min(first.grad_norm, CONFIG.grad_clip)


def test_a_run_put_away_and_taken_up_again_takes_exactly_the_steps_it_would_have(corpus, tmp_path):
    """The server puts a visitor's One batch run away to disk when others need the memory; their next press
    must not notice: the same step numbers and the same losses as a run never put away (dropout included)."""
    config = replace(CONFIG, dropout=0.3, num_layers=2)
    kept = OneBatch(corpus, config)
    never = [kept.step() for _ in range(5)]
    stepper = OneBatch(corpus, config)
    assert stepper.put_away(tmp_path) is None  # no step taken: nothing to keep
    first = [stepper.step() for _ in range(3)]
    saved = stepper.put_away(tmp_path)
    again = OneBatch(corpus, config, resume=load_checkpoint(saved))
    assert first + [again.step() for _ in range(2)] == never


def test_clipping_fires_when_the_gradient_is_longer_than_the_clip(corpus):
    tight = OneBatch(corpus, replace(CONFIG, grad_clip=0.01)).step()
    assert tight.clipped and tight.grad_norm > 0.01 and tight.grad_norm_after == 0.01
    off = OneBatch(corpus, replace(CONFIG, grad_clip=0.0)).step()
    assert not off.clipped and off.grad_norm_after == off.grad_norm == tight.grad_norm  # the same first gradient


def test_one_batch_moves_on_to_the_next_epoch(corpus):
    stepper = OneBatch(corpus, CONFIG)
    per_epoch = stepper.step().batches
    for _ in range(per_epoch):
        last = stepper.step()
    assert (last.epoch, last.batch) == (2, 0)


def test_one_character_at_a_time_writes_what_generate_writes(corpus):
    model = CharRNN(ModelConfig.for_vocab(len(corpus.vocab), hidden_size=32, num_layers=1))
    sampler = Sampler(model, corpus.vocab)
    stepper = OneCharacter(sampler, "It was", top_n=4, temperature=0.8, seed=11)
    steps = [stepper.step() for _ in range(60)]
    assert stepper.text == sampler.generate("It was", 60, 4, 0.8, 11)
    for s in steps:
        assert s.chosen in s.kept and len(s.kept) == 4 and abs(sum(s.kept_probs) - 1) < 1e-9
        assert abs(s.probs.sum() - 1) < 1e-9 and 0 <= s.uniform < 1
        assert s.kept == list(np.argsort(-s.probs, kind="stable")[:4])  # the four most likely
        assert len(s.memory) == 1 and s.memory[0][1] > 0  # the memory moved as it read the character
