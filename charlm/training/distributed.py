"""Training one model on several processes (data parallelism), as started by ``torchrun``.

``torchrun --nproc_per_node=K -m charlm train …`` starts K copies of the same command. Each copy is a
*rank*: it reads the same text, builds the same model from the same seed, and trains on its own share of
the N rows of every batch (rows ``rank·N/K`` to ``(rank+1)·N/K``). PyTorch's ``DistributedDataParallel``
averages the gradients over the ranks during ``backward``, so every rank clips the same averaged gradient
and takes the same Adam step: the K copies of the weights stay equal, and the run is the one-process run
with its rows computed in K places (the same losses, within float rounding).

What the loop in ``loop.py`` needs from the other ranks is here, in one small object, ``Ranks``:
- the rows of a batch this rank trains on (``rows``);
- one number or one sum agreed by all ranks (the logged loss, the held-out loss summed over the rows each
  rank scored, whether to stop now: a time limit or Ctrl-C must end every rank at the same step);
- the carried memory of all rows gathered in row order, so that a checkpoint holds what a one-process run
  would hold, and the random state of every rank's dropout masks.

Only rank 0 writes (checkpoints, the loss log, samples); the others compute. A run with one process has
``Ranks()`` (rank 0 of 1), whose every method returns its argument: the plain loop is the same code.
torchrun itself starts the processes, sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``, and ends them all
when one fails; nothing here launches anything.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist

from charlm.errors import CharLMError
from charlm.network.model import State
from charlm.training.device import generator_for, restore_generator


class Saved(NamedTuple):
    """A checkpoint's random state: one generator state per process that trained it (or the one), at ``step``."""

    states: torch.Tensor | None
    ranks: int
    step: int


@dataclass(frozen=True)
class Ranks:
    """This process's place among the ``world`` processes training one model (``Ranks()``: alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0  # its place among the processes on this machine (which GPU it takes)
    local_world: int = 1  # processes on this machine (they share its CPU cores and memory)

    @property
    def alone(self) -> bool:
        return self.world == 1

    @property
    def writes(self) -> bool:
        """Rank 0 writes checkpoints, logs and samples for the run."""
        return self.rank == 0

    def check_rows(self, batch_size: int) -> None:
        """Every rank takes the same number of rows, so that averaging their gradients gives the gradient of
        the whole batch's mean loss."""
        if batch_size % self.world:
            lower = max(self.world, batch_size - batch_size % self.world)
            raise CharLMError(
                f"batch_size={batch_size} rows do not split evenly across {self.world} processes: "
                f"use a multiple of {self.world} (for example {lower} or {lower + self.world}).",
                key="ranks_rows",
                batch_size=batch_size,
                world=self.world,
                lower=lower,
                higher=lower + self.world,
            )

    def rows(self, batch_size: int) -> slice:
        """This rank's rows of a batch of ``batch_size`` (a multiple of the world)."""
        share = batch_size // self.world
        return slice(self.rank * share, (self.rank + 1) * share)

    def share_of(self, count: int) -> range:
        """This rank's part of ``count`` items that need not split evenly (held-out rows): contiguous, the first
        ranks taking one more; possibly empty when there are more ranks than items."""
        base, extra = divmod(count, self.world)
        start = self.rank * base + min(self.rank, extra)
        return range(start, start + base + (self.rank < extra))

    def mean(self, value: float) -> float:
        """The mean of ``value`` over the ranks (each rank's mean loss over its equal share of rows)."""
        if self.alone:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self._device())
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` (a float64 scalar) over the ranks: every rank gets the same number."""
        if self.alone:
            return value
        value = value.to(self._device())
        dist.all_reduce(value)
        return value

    def agree(self, reason: str | None, reasons: tuple[str, ...]) -> str | None:
        """Rank 0's ``reason`` to stop (one of ``reasons``, or None to go on), for every rank: a clock or a
        Ctrl-C seen a moment apart must not end one rank a step before another (it would wait for ever)."""
        if self.alone:
            return reason
        t = torch.tensor([reasons.index(reason) + 1 if reason else 0], device=self._device())
        dist.broadcast(t, src=0)
        return reasons[int(t.item()) - 1] if int(t.item()) else None

    def gather_rows(self, state: State | None) -> State | None:
        """The carried memory of every rank's rows, in row order: the (layers, N, hidden) state a one-process
        run would carry, so a checkpoint resumes on any number of processes."""
        if self.alone or state is None:
            return state
        parts = state if isinstance(state, tuple) else (state,)
        whole = []
        for part in parts:
            pieces = [torch.empty_like(part) for _ in range(self.world)]
            dist.all_gather(pieces, part.contiguous())
            whole.append(torch.cat(pieces, dim=1))
        return tuple(whole) if isinstance(state, tuple) else whole[0]

    def my_rows(self, state: State | None, batch_size: int) -> State | None:
        """This rank's rows of a whole carried state (from a checkpoint)."""
        if self.alone or state is None:
            return state
        rows = self.rows(batch_size)
        return (
            tuple(s[:, rows].contiguous() for s in state) if isinstance(state, tuple) else state[:, rows].contiguous()
        )

    def gather_random_states(self, generator: torch.Generator) -> torch.Tensor:
        """Every rank's generator state, one row per rank (a one-process run: its state as it always was)."""
        mine = generator.get_state()
        if self.alone:
            return mine
        every: list[torch.Tensor | None] = [None] * self.world
        dist.all_gather_object(every, mine)
        return torch.stack(every)

    def dropout_seed(self, seed: int) -> int:
        """The seed of this rank's dropout masks: from the run's seed and the rank, so that a run started or
        resumed on the same number of processes draws the same masks (rank 0 of 1 keeps the run's own)."""
        return int(np.random.SeedSequence([seed, self.rank, self.world]).generate_state(1, np.uint64)[0] >> 1)

    def masks_generator(
        self, weights: torch.Generator, device: torch.device, seed: int, saved: Saved | None = None
    ) -> torch.Generator:
        """The generator of this process's dropout masks: on the CPU the one that drew the first ``weights``,
        going on; on a GPU one of its own there; with several processes, seeded from the seed and the rank.
        A resumed run goes on from the checkpoint's states (``saved``) when as many processes trained it."""
        mine = seed if self.alone else self.dropout_seed(seed)
        generator = weights
        if device.type != "cpu":
            generator = generator_for(device, mine)
        elif not self.alone:
            generator.manual_seed(mine)
        if saved is not None and saved.ranks == self.world:  # else no masks are drawn (resume.check_same_ranks)
            state = saved.states
            if not self.alone:  # one row per process (anything else: a state derived from the seed and step)
                several = state is not None and state.ndim == 2 and len(state) == self.world
                state = state[self.rank] if several else torch.empty(0, dtype=torch.uint8)
            restore_generator(generator, state, seed, saved.step)
        return generator

    def _device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")


ALONE = Ranks()  # a run on one process


def launched_by_torchrun() -> bool:
    """Whether this process was started by torchrun (which sets the ranks in the environment)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def join(device: str) -> Ranks:
    """This process's ranks: alone unless started by torchrun, in which case it joins the others (the gloo
    backend on CPUs, NCCL on NVIDIA GPUs, each rank on the GPU of its local rank)."""
    if not launched_by_torchrun():
        return Ranks()
    env = os.environ
    ranks = Ranks(
        rank=int(env["RANK"]),
        world=int(env["WORLD_SIZE"]),
        local_rank=int(env["LOCAL_RANK"]),
        local_world=int(env.get("LOCAL_WORLD_SIZE", env["WORLD_SIZE"])),
    )
    if ranks.alone:
        return ranks
    gpus = device in ("cuda", "auto") and torch.cuda.is_available()
    if gpus:
        if ranks.local_rank >= torch.cuda.device_count():
            raise CharLMError(
                f"This machine has {torch.cuda.device_count()} GPUs, fewer than the {ranks.local_world} processes "
                "started on it: give torchrun --nproc_per_node at most the number of GPUs.",
                key="ranks_gpus",
                gpus=torch.cuda.device_count(),
                processes=ranks.local_world,
            )
        torch.cuda.set_device(ranks.local_rank)
    dist.init_process_group(backend="nccl" if gpus else "gloo")
    return ranks


def leave(ranks: Ranks, finished: bool) -> None:
    """End this process's part in the group, on every rank: after a ``finished`` run, once all have finished
    (a rank that closes its connections while rank 0 still writes makes the backend abort the process); after a
    failure at once (torchrun stops the others)."""
    if ranks.alone or not dist.is_initialized():
        return
    if finished:
        dist.barrier()
    gc.collect()  # nothing left holding the group (a wrapper in a reference cycle) when it goes
    dist.destroy_process_group()
