"""One batch, or one character, at a time, with every stage in numbers: the Train and Generate tabs'
step buttons.

A student who has watched a loss curve fall has not yet seen what one step of training *is*: a batch, its
loss, the gradient (and whether clipping cut it), the update, and the loss on that batch afterwards. Nor
what one step of sampling is: the memory carried in, the distribution, the top-N cut, the draw. These
classes do exactly what ``train`` and ``Sampler.stream`` do, one step per call, and say what happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from charlm.data.batches import check_corpus
from charlm.data.vocab import Corpus
from charlm.lessons.coach import clipping_fired
from charlm.network.model import parameter_count
from charlm.sampling.fast.blas_threads import on_one_blas_thread
from charlm.sampling.pick import check_settings, pick_next, prepare_prime, softmax
from charlm.sampling.sampler import Sampler
from charlm.training.checkpoint import Checkpoint
from charlm.training.config import TrainConfig
from charlm.training.evaluate import cross_entropy
from charlm.training.loop import _Run
from charlm.training.memory import FLOAT, estimate_training_bytes


@dataclass(frozen=True)
class BatchStep:
    step: int  # steps taken so far, this one included
    epoch: int  # 1-based
    batch: int  # 0-based, within the epoch
    batches: int  # per epoch
    first_input: str  # the batch's first row, as text (its targets are the same, one character on)
    loss: float  # as the training log prints it (with dropout, if any)
    loss_before: float  # the same batch, from the same carried memory, without dropout: before the update...
    loss_after: float  # ... and after it
    grad_norm: float  # the gradient's global norm
    clip: float  # grad_clip (0: off)
    learning_rate: float
    change: float  # the global norm of the parameters' change
    relative_change: float  # that change over the parameters' own norm

    @property
    def clipped(self) -> bool:
        return clipping_fired(self.grad_norm, self.clip)

    @property
    def grad_norm_after(self) -> float:
        """The norm the update used: clipping scales a longer gradient down to ``clip``."""
        return min(self.grad_norm, self.clip) if self.clip else self.grad_norm


class OneBatch:
    """A training run driven one batch per call (on the CPU, with nothing saved): the same loop as
    ``train``, so a student's steps are exactly the first steps of that run."""

    def __init__(self, corpus: Corpus, config: TrainConfig, resume: Checkpoint | None = None):
        corpus = corpus.with_val_fraction(config.val_fraction)
        check_corpus(corpus, config.batch_size, config.num_steps)
        # the run's own settings (its learning-rate schedule too); the button may go on past the run's end
        self.config = replace(config, device="cpu")
        self.run = _Run(corpus, self.config, None, lambda event: None, resume)
        self.vocab = corpus.vocab

    @staticmethod
    def memory_bytes(config: TrainConfig, vocab_size: int) -> int:
        """What a run stepped this way holds and takes in a step: a training step's peak, and the copy of the
        weights each step is compared with."""
        return estimate_training_bytes(config, vocab_size) + FLOAT * parameter_count(config.model_config(vocab_size))

    def put_away(self, folder: Path) -> Path | None:
        """Save the run in ``folder`` as a checkpoint (weights, optimiser, carried memory, random generator), so
        that ``OneBatch(corpus, config, resume=load_checkpoint(it))`` takes exactly the step this one would
        have taken next; None when no step was taken (there is nothing to keep)."""
        if self.run.progress.step == 0:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        self.run.out_dir = folder
        self.run.save()
        return self.run.last_checkpoint

    def step(self) -> BatchStep:
        run, config = self.run, self.config
        run.reason_to_stop(None)  # moves to the next epoch when this one's batches are used up
        p = run.progress
        epoch, batch = p.epoch + 1, p.batch
        cols = slice(batch * config.num_steps, (batch + 1) * config.num_steps)
        x, y = run.inputs[:, cols], run.targets[:, cols]
        carried = run.carried_state()
        before = [w.detach().clone() for w in run.model.parameters()]
        loss_before = self._loss(x, y, carried)
        event = run.train_step()
        loss_after = self._loss(x, y, carried)
        with torch.no_grad():
            change = math.sqrt(sum(float(((w - b) ** 2).sum()) for w, b in zip(run.model.parameters(), before)))
            size = math.sqrt(sum(float((b**2).sum()) for b in before))
        return BatchStep(
            p.step,
            epoch,
            batch,
            len(run.batches),
            self.vocab.decode(x[0].tolist()),
            event.loss,
            loss_before,
            loss_after,
            event.grad_norm,
            config.grad_clip,
            event.learning_rate,
            change,
            change / max(size, 1e-12),
        )

    @torch.no_grad()
    def _loss(self, x: torch.Tensor, y: torch.Tensor, state) -> float:
        model = self.run.model
        model.eval()  # no dropout: before and after are then comparable
        try:
            logits, _ = model(x, state)
            return float(cross_entropy(logits, y))
        finally:
            model.train()


@dataclass(frozen=True)
class CharStep:
    position: int  # characters generated so far, this one included
    memory: list[tuple[float, float]]  # per layer: the norm of the hidden state carried in, and how much it moved
    probs: np.ndarray  # the next-character distribution at the temperature, over the whole vocabulary
    kept: list[int]  # the top-N, most likely first
    kept_probs: list[float]  # renormalised over the top-N: what the draw chooses from
    uniform: float  # the random number drawn, in [0, 1)
    chosen: int
    char: str


class OneCharacter:
    """``Sampler.stream`` one character per call: the same seed writes the same text as Generate."""

    def __init__(self, sampler: Sampler, prime: str, top_n: int, temperature: float, seed: int):
        check_settings(sampler.vocab, top_n, temperature)
        self.sampler, self.top_n, self.temperature = sampler, top_n, temperature
        self.prime = prepare_prime(sampler.vocab, prime)
        self.rng = np.random.default_rng(seed)
        self.state = sampler.new_state()
        self.logits = sampler.feed(self.state, self.prime)
        self.text, self.position = self.prime, 0

    @on_one_blas_thread
    def step(self) -> CharStep:
        record: dict = {}
        x = pick_next(self.logits, self.top_n, self.temperature, self.rng, record)
        char = self.sampler.vocab.chars[x]
        probs = softmax(self.logits, self.temperature)
        h_before = [h.copy() for h in self.state.h]
        self.logits = self.sampler.step(self.state, x)  # the character read back in: the memory moves on
        memory = [(float(np.linalg.norm(b)), float(np.linalg.norm(h - b))) for b, h in zip(h_before, self.state.h)]
        weights = np.asarray(record["weights"], dtype=np.float64)
        self.text += char
        self.position += 1
        return CharStep(
            self.position, memory, probs, record["kept"], (weights / weights.sum()).tolist(), record["uniform"], x, char
        )
