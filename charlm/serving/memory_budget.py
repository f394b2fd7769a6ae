"""One memory budget for the big requests of a whole class: admitted before they allocate, not counted after.

Trainings have their own share (``AppConfig.job_memory_bytes``). Everything else a visitor can ask for that
costs memory in proportion to its input (reading an uploaded text, tracing a long passage, a step of One
batch) says beforehand how much it will take, and waits here until that much is free: thirty such requests
at once then queue for a few seconds instead of taking the server past its memory together.

Two kinds of holdings:

* ``hold(nbytes)``: for the length of one request; given back when it ends.
* ``keep(owner, nbytes, put_away)``: memory a visitor keeps between requests (One batch's model and
  optimiser). When a request needs room, the holdings kept longest unused are put away (``put_away`` saves
  them to disk and lets go of them) until it fits. A visitor's own holding is taken out of the ledger while
  one of their requests runs (``hold(..., owner=)``), so it is never put away under their feet.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from charlm.errors import CharLMError

log = logging.getLogger(__name__)
WAIT_SECONDS = 10.0  # how long a request waits for room before it is asked to try again


@dataclass
class _Kept:
    nbytes: int
    put_away: Callable[[], None]


class MemoryBudget:
    def __init__(self, limit_bytes: int, wait_seconds: float = WAIT_SECONDS):
        self.limit = limit_bytes
        self.wait_seconds = wait_seconds
        self._held = 0  # by requests running now
        self._kept: OrderedDict[str, _Kept] = OrderedDict()  # owner -> holding, least recently used first
        self._room = threading.Condition()

    @property
    def in_use(self) -> int:
        with self._room:
            return self._held + sum(k.nbytes for k in self._kept.values())

    @contextlib.contextmanager
    def hold(self, nbytes: int, owner: str = "") -> Iterator[None]:
        """Room for ``nbytes`` while the block runs. ``owner``'s kept holding (if any) is taken out of the ledger
        for that time (its bytes are counted in ``nbytes``). Refused at once when ``nbytes`` exceeds the whole
        budget (``request_too_big``); after ``wait_seconds`` when others hold the room (``server_memory_busy``)."""
        nbytes = max(0, int(nbytes))
        if nbytes > self.limit:
            raise CharLMError(
                f"This request needs about {nbytes / 2**20:,.0f} MB; the server gives such requests "
                f"{self.limit / 2**20:,.0f} MB. Use a shorter text or smaller settings.",
                key="request_too_big",
                need_mb=nbytes / 2**20,
                limit_mb=self.limit / 2**20,
            )
        self._admit(nbytes, owner)
        try:
            yield
        finally:
            with self._room:
                self._held -= nbytes
                self._room.notify_all()

    def keep(self, owner: str, nbytes: int, put_away: Callable[[], None]) -> None:
        """``owner`` keeps ``nbytes`` after its request (replacing what it kept before). If that leaves too little
        room, others' holdings are put away, longest unused first, and then, if still too little, this one."""
        with self._room:
            self._kept.pop(owner, None)
            self._kept[owner] = _Kept(max(0, int(nbytes)), put_away)
            self._put_away_until(0)
            self._room.notify_all()

    def forget(self, owner: str) -> None:
        """``owner`` let go of what it kept (a visitor who left): nothing is put away."""
        with self._room:
            if self._kept.pop(owner, None) is not None:
                self._room.notify_all()

    def _admit(self, nbytes: int, owner: str) -> None:
        deadline = time.monotonic() + self.wait_seconds
        with self._room:
            self._kept.pop(owner, None)
            while not self._put_away_until(nbytes):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CharLMError(
                        "The server is busy with other visitors' big requests: try again in a moment.",
                        key="server_memory_busy",
                    )
                self._room.wait(left)
            self._held += nbytes

    def _put_away_until(self, nbytes: int) -> bool:
        """Put kept holdings away, longest unused first, until ``nbytes`` more fit; whether they do. Called with
        the lock held: an owner cannot start a request while its holding is being saved."""
        while self._held + sum(k.nbytes for k in self._kept.values()) + nbytes > self.limit and self._kept:
            owner, kept = self._kept.popitem(last=False)
            try:
                kept.put_away()
            except Exception:  # a full disk: what could not be saved is let go of all the same
                log.exception("a kept holding of %s could not be put away", owner)
        return self._held + nbytes <= self.limit
