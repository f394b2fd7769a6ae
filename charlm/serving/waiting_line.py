"""How many trainings run at once in this process, and the line of those waiting for a place.

A class on one small server must not start more trainings than it has cores for (or, on ZeroGPU,
more than it can relay). Past the cap, a training either is refused politely or joins a line,
first come first served, and is started by itself when a place frees; it can leave the line
(its visitor pressed Stop or left). The line also says about when each waiting one will start.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

from charlm.errors import CharLMError


class Waiting(Protocol):
    """What the line needs of a job: its time limit and time left (for the estimate), and a way to start it
    when its turn comes. ``jobs.TrainingJob`` is one; the line never reaches into a job beyond this."""

    @property
    def config(self) -> _HasTimeLimit: ...

    def seconds_left(self) -> float | None: ...

    def start_from_line(self) -> None: ...

    @property
    def priority(self) -> bool: ...  # a teacher's: may take the kept place, and waits at the front of the line


class _HasTimeLimit(Protocol):
    max_seconds: float


class JobSlots:
    """At most ``limit`` jobs at once in this process, and ``kept`` places more for jobs with ``priority`` (a
    teacher's demonstration must not wait behind the class). Past it, a job either is refused politely or, if it
    asks to wait, joins a line and starts by itself when a slot frees (first come, first served; priority jobs
    ahead of the others)."""

    def __init__(self, limit: int = 2, kept: int = 0):
        self.limit, self.kept = limit, kept
        self._lock = threading.Lock()
        self._running = 0
        self._jobs: set[Waiting] = set()  # those holding a slot (for the waiting time)
        self._line: list[Waiting] = []

    def _room_for(self, job: Waiting | None) -> bool:
        """Whether ``job`` may take a place now (with the lock held)."""
        first = job is not None and job.priority
        return self._running < self.limit + (self.kept if first else 0)

    def acquire(self, job: Waiting | None = None, wait: bool = False) -> bool:
        """A slot now (True); or, with ``wait``, a place in line (False: ``job`` is started when its turn
        comes); without it, a refusal when all are taken."""
        with self._lock:
            first = job is not None and job.priority
            ahead_of_line = not any(w.priority for w in self._line) if first else not self._line
            if ahead_of_line and self._room_for(job):
                self._running += 1
                if job is not None:
                    self._jobs.add(job)
                return True
            if not wait or job is None:
                raise CharLMError(
                    f"The server is busy: {self._running} trainings are already running (the limit is "
                    f"{self.limit}). Try again in a minute, or generate with a trained model meanwhile.",
                    key="server_busy",
                    running=self._running,
                    limit=self.limit,
                )
            if job.priority:  # behind the other priority jobs, ahead of everyone else
                self._line.insert(sum(1 for waiting in self._line if waiting.priority), job)
            else:
                self._line.append(job)
            return False

    def release(self, job: Waiting | None = None) -> None:
        """Free ``job``'s slot: the first in line takes it, if anyone waits and may (the kept place is a
        priority job's only)."""
        with self._lock:
            self._jobs.discard(job)
            self._running = max(0, self._running - 1)
            following = self._line.pop(0) if self._line and self._room_for(self._line[0]) else None
            if following is not None:
                self._running += 1
                self._jobs.add(following)
        if following is not None:
            following.start_from_line()

    def leave(self, job: Waiting) -> bool:
        """Take ``job`` out of the line (its visitor left or stopped it); False if it was not waiting."""
        with self._lock:
            if job in self._line:
                self._line.remove(job)
                return True
            return False

    def place(self, job: Waiting) -> tuple[int, float | None]:
        """``job``'s place in line (1: next; 0: not waiting) and about how many seconds until it starts,
        from the running jobs' time left (None when that is not known yet)."""
        with self._lock:
            if job not in self._line:
                return 0, None
            place, running = self._line.index(job) + 1, list(self._jobs)
        left = [j.seconds_left() for j in running]
        if not left or any(x is None for x in left):
            return place, None
        left.sort()
        whole = max(j.config.max_seconds for j in running) or max(left)  # one training's length, for later rounds
        rounds, index = divmod(place - 1, len(left))
        return place, left[index] + rounds * whole

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._line)


class SmoothedEstimate:
    """A waiting time that counts down steadily between polls and moves only gradually toward each new
    estimate: the raw one follows the running trainings' pace, which jumps from step to step (8:13, 9:36, 7:59
    within nine seconds, measured), and a visitor reading it would see minutes come and go. The pull toward the
    new value has a time constant of ``settle`` seconds, whoever polls and however often."""

    def __init__(self, settle: float = 20.0, clock=time.monotonic):
        self.settle, self.clock = settle, clock
        self.value: float | None = None
        self.place = 0
        self.at = 0.0

    def update(self, raw: float | None, place: int = 0) -> float | None:
        """The estimate to show now; a new ``place`` in line starts again from the raw estimate (the line moved,
        so the old figure says nothing: smoothing across it dragged 14 hours down to 9 minutes for a minute)."""
        now = self.clock()
        if self.value is None or place != self.place:
            self.value, self.place = raw, place
        else:
            predicted = max(0.0, self.value - (now - self.at))  # the clock ran on since the last poll
            pull = 1.0 - math.exp(-(now - self.at) / self.settle)
            self.value = predicted if raw is None else predicted + pull * (raw - predicted)
        self.at = now
        return None if self.value is None else round(self.value)
