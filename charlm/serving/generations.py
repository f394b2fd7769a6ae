"""Many generations of one model, stepped together (chapter section 5.12, served to a class at once).

Thirty students pressing Generate on the same model each need one step of the network per character.
Stepped one by one, every step reads all the weights again for a single character, and the students
wait in line. ``Generations`` keeps one batch per model instead: a stream joins at the next step
boundary (its prime is read on its own first), every step advances all the streams at once (one pass
over the weights serves four of them, ``sampling/fast/products.py``), and a stream that is done or stopped leaves at the
next boundary. This is the "continuous batching" of language-model servers, for an LSTM.

While no one joins or leaves, the batch is stepped many characters per call (``_run_ahead``): the call
runs without the interpreter's lock, which a busy server's other threads would otherwise make it wait
for at every character (``kernels.py`` says how much that cost). A batch of eight or more is cut into
parts, one per core, stepped side by side: one thread stepping thirty streams kept one of a server's two
cores busy while the other waited (``bench/load.py``).

Each stream keeps its own prime, top-N, temperature, seed and length, and writes *exactly* the text
``Sampler.stream`` writes alone with the same settings: its random draws come from its own generator,
and every product it takes part in gives each row the bits it would have alone (``sampling/fast/products.py``).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from charlm.errors import CharLMError
from charlm.sampling.fast.blas_threads import on_one_blas_thread
from charlm.sampling.fast.products import compiled
from charlm.sampling.pick import check_settings, drawn_by_rule, pick_next, prepare_prime
from charlm.sampling.sampler import Sampler, StackedStates

log = logging.getLogger(__name__)
MAX_STREAMS = 64  # streams stepped at once per model; more wait for a place at a step boundary
TELL_EVERY = 0.02  # seconds: readers are woken at most this often (and at once for a first or last character)
RUN_FOR = 0.02  # seconds: about how long one compiled call steps the batch for (see ``_run_ahead``)
MAX_RUN = 64  # steps per compiled call at most
PART = 4  # rows per part at least, when a run of steps is cut into parts for several cores (``_cut``)
_DONE = object()  # what a stream receives after its last character


@dataclass(eq=False)
class _Stream:
    logits: np.ndarray  # the scores its next character is drawn from
    rng: np.random.Generator
    top_n: int
    temperature: float
    left: int  # characters still to write
    out: collections.deque = field(default_factory=collections.deque)  # drawn, not yet read (and _DONE or an error)
    ready: threading.Event = field(default_factory=threading.Event)  # set: ``out`` has something for the reader
    stopped: bool = False  # its reader went away: leave at the next step boundary

    def tell(self, item) -> None:
        """Hand the reader something it must not wait for (the end, an error)."""
        self.out.append(item)
        self.ready.set()


class Generations:
    """Every generation of one ``Sampler`` in flight, stepped together by one thread while there are any."""

    def __init__(self, sampler: Sampler, max_streams: int = MAX_STREAMS, cores: int | None = None):
        self.sampler, self.max_streams = sampler, max_streams
        self.cores = cores or usable_cores()  # parts of a run of steps computed at once, at most
        self._lock = threading.Lock()
        self._joining: list[tuple[_Stream, StackedStates]] = []
        self._running = False  # a thread is stepping the batch
        self._go = threading.Event()  # cleared: no step is taken (``held``)
        self._go.set()
        self.steps = 0  # batch steps taken (for tests and benchmarks)
        self.runs = 0  # compiled calls that took several of those steps at once (``_run_ahead``)
        self.split_runs = 0  # those runs cut into parts stepped side by side
        self.widest = 0  # the most streams stepped at once
        self.streaming = 0  # streams in the batch now (a server shows progress less often when many share it)

    def stream(
        self,
        prime: str | None = None,
        length: int = 500,
        top_n: int = 4,
        temperature: float = 1.0,
        seed: int | None = None,
        on_unknown: str = "error",
    ) -> Iterator[str]:
        """Yield ``length`` generated characters one by one, as ``Sampler.stream`` does with the same
        arguments; closing the iterator (the reader stops) takes the stream out of the batch."""
        check_settings(self.sampler.vocab, top_n, temperature, length)
        prime = prepare_prime(self.sampler.vocab, prime, on_unknown)
        return self._stream(prime, length, top_n, temperature, seed)

    def _stream(self, prime: str, length: int, top_n: int, temperature: float, seed: int | None) -> Iterator[str]:
        if length == 0:
            return
        state = self.sampler.new_state()
        logits = self.sampler.feed(state, prime)  # on the reader's thread: a long prime delays no one else
        stream = _Stream(logits, np.random.default_rng(seed), top_n, temperature, length)
        self._join(stream, self.sampler.stack_states([state]))
        chars = self.sampler.vocab.chars
        try:
            while True:
                stream.ready.clear()
                while stream.out:
                    got = stream.out.popleft()
                    if got is _DONE:
                        return
                    if isinstance(got, BaseException):
                        raise CharLMError("The generation failed; try again.", key="generation_failed") from got
                    yield chars[got]
                if not stream.out:  # nothing drawn meanwhile: sleep until the stepping thread says so
                    stream.ready.wait()
        finally:
            stream.stopped = True

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """No step is taken inside: streams that start meanwhile read their primes and wait, then all step
        together (tests and benchmarks line up a class this way)."""
        self._go.clear()
        try:
            yield
        finally:
            self._go.set()

    @property
    def waiting(self) -> int:
        """Streams that have read their primes and wait for a place in the batch."""
        with self._lock:
            return len(self._joining)

    def _join(self, stream: _Stream, rows: StackedStates) -> None:
        with self._lock:
            self._joining.append((stream, rows))
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._run, name="charlm-generations", daemon=True).start()

    @on_one_blas_thread
    def _run(self) -> None:  # noqa: C901 (one loop owns the batch between steps; its state would travel otherwise)
        """Step the batch until no stream is left: draw each stream's character, let finished and stopped
        streams leave, let waiting ones join, and advance the rest by one character."""
        streams: list[_Stream] = []
        rows = StackedStates([], [], [], np.zeros((0, 0), np.float32))
        told = 0.0  # when the readers were last woken
        scores = None  # the last step's scores, one row per stream in ``streams`` (None once others joined)
        per_step = 1e-3  # seconds a step of this batch takes, about (how many to take in one call)
        try:
            while True:
                self._go.wait()
                with self._lock:  # who steps next: the batch as it is, then whoever joined meanwhile
                    room = self.max_streams - len(streams)
                    joining, self._joining = self._joining[: max(room, 0)], self._joining[max(room, 0) :]
                    if not streams and not joining:
                        self._running, self.streaming = False, 0
                        return
                for stream, new_rows in joining:
                    scores = None
                    streams.append(stream)
                    rows = rows.join(new_rows)
                self.streaming = len(streams)
                self.widest = max(self.widest, len(streams))
                began = time.thread_time()  # this thread's own time: the work, not the waits for the lock
                ahead = self._run_ahead(streams, rows, scores, per_step)
                if ahead:
                    per_step = (time.thread_time() - began) / ahead
                    if time.monotonic() - told >= TELL_EVERY:
                        told = time.monotonic()
                        for s in streams:
                            s.ready.set()
                    continue
                inputs = self._draw_all(streams, scores)  # each from its own scores, with its own generator
                going_on = [i for i, s in enumerate(streams) if s.left and not s.stopped]
                for s in streams:
                    if not s.left or s.stopped:
                        s.tell(_DONE)
                # wake the readers now and then, not at every character: thirty threads woken at every step
                # would take the interpreter from the one doing the work
                now = time.monotonic()
                if now - told >= TELL_EVERY:
                    told = now
                    for s in streams:
                        s.ready.set()
                else:
                    for s in joining:
                        s[0].ready.set()  # a first character is shown at once
                if len(going_on) < len(streams):
                    streams, rows = [streams[i] for i in going_on], rows.take(going_on)
                if not streams:
                    continue
                logits = scores = self.sampler.advance(rows, np.array([inputs[i] for i in going_on]))
                self.steps += 1
                per_step = time.thread_time() - began
                for s, row in zip(streams, logits):
                    s.logits = row
        except Exception as err:  # tell every reader, so that none waits for ever
            log.exception("a batch of generations failed")
            with self._lock:
                waiting, self._joining, self._running = self._joining, [], False
            for s in streams + [s for s, _ in waiting]:
                s.tell(err)

    def _run_ahead(
        self, streams: list[_Stream], rows: StackedStates, scores: np.ndarray | None, per_step: float
    ) -> int:
        """Step the batch many characters in one compiled call (``Sampler.generate_rows``) when nothing is due
        to change meanwhile: no one joined since the last step, no one stopped, every stream drawn by the
        few-choices rule and with characters left after the call. Returns the steps taken (0: take one step
        the ordinary way). Why: the call runs without the interpreter's lock, which a busy server's other
        threads hold most of the time; a thread that lets it go and takes it back at every character waited
        for it at every character (``kernels.py`` has the figures)."""
        if scores is None or not self.sampler.generates_rows:
            return 0
        V = len(self.sampler.vocab)
        if any(s.stopped or not drawn_by_rule(s.top_n, V) for s in streams):
            return 0
        steps = min(MAX_RUN, max(1, int(RUN_FOR / max(per_step, 1e-6))), min(s.left for s in streams) - 1)
        if steps < 1:
            return 0
        # one uniform number per character, as pick_next draws them (one at a time: NumPy lets go of the lock to
        # fill an array of them, and the point here is to take it as little as possible)
        uniform = np.array([[s.rng.random() for s in streams] for _ in range(steps)])
        top_n = np.array([s.top_n for s in streams])
        temperature = np.array([s.temperature for s in streams], np.float64)
        parts = _cut(len(streams), self.cores)
        if len(parts) == 1:
            drawn = self.sampler.generate_rows(rows, scores, top_n, temperature, uniform)
        else:  # each part its own rows, in place: a row's characters do not depend on who shares its part

            def run(part: tuple[int, int]) -> np.ndarray:
                a, b = part
                return self.sampler.generate_rows(
                    rows.part(a, b), scores[a:b], top_n[a:b], temperature[a:b], np.ascontiguousarray(uniform[:, a:b])
                )

            others = [_helpers(self.cores).submit(run, part) for part in parts[1:]]
            drawn = np.concatenate([run(parts[0])] + [f.result() for f in others], axis=1)
            self.split_runs += 1
        for s, chars, row in zip(streams, drawn.T.tolist(), scores):
            s.out.extend(chars)
            s.left -= steps
            s.logits = row
        self.steps += steps
        self.runs += 1
        return steps

    def _draw_all(self, streams: list[_Stream], scores: np.ndarray | None) -> list[int]:
        """Each stream's next character (0 for a stopped one, which leaves), as ``pick_next`` draws it: those
        drawn by its few-choices rule in one compiled call (the stepping thread then lets go of the
        interpreter's lock once, not once per stream), the others one by one."""
        loops, V = compiled(), len(self.sampler.vocab)
        few = [i for i, s in enumerate(streams) if loops and not s.stopped and drawn_by_rule(s.top_n, V)]
        drawn = [0] * len(streams)
        if few:
            if scores is None or len(few) < len(streams):
                scores = np.stack([streams[i].logits for i in few])
            chosen = loops.draw_rows(
                scores,
                np.array([streams[i].top_n for i in few]),
                np.array([streams[i].temperature for i in few], np.float64),
                np.array([streams[i].rng.random() for i in few]),
                np.empty(len(few), np.int64),
            )
            for i, x in zip(few, chosen.tolist()):
                drawn[i] = x
        taken = set(few)
        for i, s in enumerate(streams):
            if s.stopped:
                continue
            if i not in taken:
                drawn[i] = pick_next(s.logits, s.top_n, s.temperature, s.rng)
            s.out.append(drawn[i])
            s.left -= 1
        return drawn


def usable_cores() -> int:
    """The cores this process may run on (a container's share, where the OS says so)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cut(rows: int, cores: int) -> list[tuple[int, int]]:
    """(start, stop) of each part: as many as there are cores, each of at least ``PART`` rows, in multiples of
    four but for the last (the product serves four rows per pass over the weights)."""
    parts = max(1, min(cores, rows // PART))
    size = -(-rows // parts // 4) * 4 if parts > 1 else rows
    return [(a, min(a + size, rows)) for a in range(0, rows, size)]


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _helpers(cores: int) -> ThreadPoolExecutor:
    """The threads that step the other parts (the stepping thread steps the first); shared by every model."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, cores - 1), thread_name_prefix="charlm-generations-part")
        return _pool
