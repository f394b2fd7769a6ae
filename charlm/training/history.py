"""A run's loss history, stored once.

Every step's training loss and every held-out loss go to one file per run folder,
``losses.csv`` (``step,kind,loss`` with kind ``train`` or ``val``), appended as the run saves.
A checkpoint carries only a thinned copy of the curve (at most ``CURVE_POINTS`` points), so a
checkpoint's size does not grow with the step it was taken at, and a run's disk grows linearly
with its length however often it saves. A checkpoint shared on its own still draws its curve;
resuming in its run folder gets the whole history back from the file.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from charlm.files import atomic_write

HISTORY_FILE = "losses.csv"
CURVE_POINTS = 2000  # points of each curve a checkpoint carries

Points = list[tuple[int, float]]


def thin(points: Points, cap: int | None = None) -> Points:
    """At most ``cap`` points: those whose step is a multiple of the smallest power-of-two stride that
    fits, plus the last one. Strides nest, so thinning a thinned curve again keeps the same grid."""
    cap = cap or CURVE_POINTS
    if len(points) <= cap:
        return list(points)
    stride = 1
    while sum(1 for s, _ in points if s % stride == 0) > cap - 1:
        stride *= 2
    kept = [(s, v) for s, v in points if s % stride == 0]
    return kept if kept and kept[-1] == points[-1] else [*kept, points[-1]]


def _lines(train: Points, val: Points) -> str:
    rows = sorted([(s, 0, v) for s, v in train] + [(s, 1, v) for s, v in val])
    return "".join(f"{s},{'val' if k else 'train'},{v!r}\n" for s, k, v in rows)


def append_history(directory: Path, train: Points, val: Points) -> None:
    """Add these points to the run's file (creating it with its header)."""
    path = directory / HISTORY_FILE
    new = not path.exists()
    with path.open("a", encoding="utf-8") as f:
        f.write(("step,kind,loss\n" if new else "") + _lines(train, val))


def read_history(directory: Path, up_to_step: int) -> tuple[Points, Points] | None:
    """The run's training and held-out losses up to ``up_to_step``, or None when the file is missing,
    unreadable, or does not reach that step (then the checkpoint's thinned curve is all there is)."""
    train: Points = []
    val: Points = []
    try:
        with (directory / HISTORY_FILE).open(encoding="utf-8") as f:
            next(f, None)  # the header
            for line in f:
                step, kind, loss = line.rstrip("\n").split(",")
                if int(step) <= up_to_step:
                    (val if kind == "val" else train).append((int(step), float(loss)))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not train or train[-1][0] != up_to_step:
        return None
    return train, val


def best_validation_step(directory: Path) -> int | None:
    """The step of the run's lowest held-out loss so far (None: no file, or no validation yet): the checkpoint
    to generate with when the run went on to over-fit."""
    best: tuple[float, int] | None = None
    try:
        with (directory / HISTORY_FILE).open(encoding="utf-8") as f:
            next(f, None)  # the header
            for line in f:
                step, kind, loss = line.rstrip("\n").split(",")
                if kind == "val" and (best is None or float(loss) < best[0]):
                    best = (float(loss), int(step))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return best[1] if best else None


def restart_history(directory: Path, train: Points, val: Points) -> None:
    """Rewrite the run's file to hold exactly these points: a resumed run goes on from its checkpoint,
    and what a later, abandoned continuation had appended is dropped."""
    with contextlib.suppress(OSError):
        atomic_write(directory / HISTORY_FILE, ("step,kind,loss\n" + _lines(train, val)).encode("utf-8"))
