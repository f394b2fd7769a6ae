"""The page's figures, drawn with matplotlib (every number comes from ``charlm``).

Figures are bare ``Figure`` objects, never pyplot: pyplot keeps global state and is not safe in
the several threads that serve a class at once. Every figure is built and drawn in one thread of its own
(``picture``). Labels are in the visitor's language when a font can draw it (``figure_lang``); each cell
type has one colour in every figure (``charlm.network.cells``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from charlm.lessons.coach import best_validation
from charlm.lessons.recall import KEYS, RecallResult
from charlm.network.cells import CELLS
from charlm.serving.jobs import JobSnapshot

from .i18n import EN, locale, t
from .locales import LOCALES


def _installed(fonts: tuple[str, ...]) -> str | None:
    """The first of ``fonts`` that matplotlib can draw with. Its font cache may predate a font installed
    later (a Space's image, a teacher's ``apt install``): then the font's file is found on disk and registered
    directly, so that Chinese figures never turn English on a machine that has the font."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in fonts if name in names), None)
    return found or next((name for name in fonts if _register(name)), None)


def _register(family: str) -> bool:
    """Add the files on disk that look like ``family`` ("Noto Sans CJK SC": NotoSansCJK-*.ttc) to matplotlib."""
    stem = "".join(family.split()[:-1] if len(family.split()) > 2 else family.split()).lower()
    for path in font_manager.findSystemFonts():
        if stem and stem in Path(path).name.lower().replace("-", "").replace("_", ""):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # a file it cannot read: not this one
                continue
    return family in {f.name for f in font_manager.fontManager.ttflist}


# For each language that needs its own font (Chinese: Debian's fonts-noto-cjk), the installed one.
FONTS: dict[str, str | None] = {code: _installed(loc.figure_fonts) for code, loc in LOCALES.items() if loc.figure_fonts}
if any(FONTS.values()):  # fall back to them for characters DejaVu lacks (vocabulary ticks, labels)
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *dict.fromkeys(f for f in FONTS.values() if f)]


# Drawn for the back of a room and for a phone: a figure fills its box's width (about 900 device pixels at a
# 1024x768 projector at 150 %, 700 on a phone), so its 1080-pixel drawing is shown at 0.65-0.85 of its size;
# 12-point ticks (20 pixels at 120 dpi) then stay at 13-17 device pixels, and lines are thick enough to see.
STYLE = {
    "font.size": 13,
    "axes.labelsize": 13,
    "axes.titlesize": 14,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "lines.linewidth": 2.2,
    "lines.markersize": 7,
}
matplotlib.rcParams.update(STYLE)


def figure_lang(lang: str) -> str:
    """The language for figure labels: one without an installed font would show boxes, so English."""
    needs = locale(lang).figure_fonts
    return lang if not needs or FONTS.get(locale(lang).code) else EN


# Figures reach Gradio as PNG files written here, whole, once, named by their content. Given an array, Gradio
# would write it to a path named by its content itself, rewriting the file in place at every call: a class
# seeing the same figure at once (the empty loss plot; one preset and seed at one step) had copies cut short
# while they were being served. Gradio copies each file into its own cache as it answers (milliseconds after
# the handler returns), so these live a minute past their last use (``sweep_pictures``): what a class leaves on
# disk is gone with the class.
_pictures: list[Path] = []


def keep_pictures_in(folder: Path) -> None:
    """Where this server writes its figures (set once at start-up, in its own sessions folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    _pictures[:] = [folder]


def _picture_folder() -> Path:
    if not _pictures:  # a script drawing without an app: the system's temporary folder
        keep_pictures_in(Path(tempfile.gettempdir()) / f"charlm-pictures-{os.getpid()}")
    return _pictures[0]


def stored(png: bytes, name: str = "figure") -> str:
    """The path of a file holding ``png``: written under a temporary name and renamed into place the first
    time, only touched after (so the sweep keeps what is still in use). Named by what it shows and its content
    ("charlm-loss-3f2a9c1b04d6.png"): the name a visitor's download keeps."""
    path = _picture_folder() / f"charlm-{name}-{hashlib.sha256(png).hexdigest()[:12]}.png"
    try:
        os.utime(path)
    except FileNotFoundError:
        fd, part = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "wb") as f:
            f.write(png)
        os.replace(part, path)
    return str(path)


def sweep_pictures(older_than_seconds: float = 60.0) -> int:
    """Remove figures untouched for ``older_than_seconds`` (Gradio served its own copies long ago)."""
    if not _pictures or not _pictures[0].is_dir():
        return 0
    cutoff, removed = time.time() - older_than_seconds, 0
    for path in _pictures[0].iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # a concurrent sweep took it
            continue
    return removed


def png_bytes(fig: Figure, dpi: int = 120) -> bytes:
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    out = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())).save(out, format="png")
    _free_pixels(canvas.renderer)
    return out.getvalue()


def _free_pixels(renderer) -> None:
    """Free a drawn figure's pixels now. A figure is a web of reference cycles (figure, canvas, axes, artists),
    freed only when Python's collector next makes a full pass, and its renderer, which every text drawn keeps
    too, holds the pixels: 1.8 MB for a loss plot, drawn at every status a class's pages ask for (a soak left 31
    of them, 55 MB, behind). The renderer's own references to its pixel buffer are all in its attributes."""
    vars(renderer).clear()


# matplotlib keeps each thread's own copy of every font it draws with (its font cache is keyed on the thread,
# up to 64 copies), and the Chinese font costs about 4 MB a copy: twenty of a server's worker threads drawing a
# loss curve in both languages left 82 MB behind (measured; emptying that cache gave back 61 MB). So every figure
# is built (its layout measures text) and drawn here, in one thread: one copy of each font for the server's life.
_drawer = ThreadPoolExecutor(1, thread_name_prefix="charlm-figures")


def drawn(build: Callable[..., Figure | None], *args, dpi: int = 120, **kwargs) -> bytes | None:
    """``build(*args, **kwargs)``'s figure as PNG bytes, built and drawn in the figures' own thread (None: no
    figure)."""

    def draw() -> bytes | None:
        fig = build(*args, **kwargs)
        return None if fig is None else png_bytes(fig, dpi)

    return _drawer.submit(draw).result()


def picture(build: Callable[..., Figure | None], *args, dpi: int = 120, **kwargs) -> str | None:
    """A figure as a PNG file for ``figure_box``: a picture the visitor can enlarge to the full screen and
    save (Gradio's matplotlib plot can do neither). Drawn at ``dpi`` so that it stays sharp enlarged.
    ``build(*args, **kwargs)`` makes the figure, in the figures' own thread (``drawn``)."""
    png = drawn(build, *args, dpi=dpi, **kwargs)
    return None if png is None else stored(png, build.__name__.removesuffix("_figure"))


@functools.lru_cache(maxsize=8)
def _empty_loss_png(lang: str) -> bytes:
    return drawn(loss_figure, JobSnapshot("pending"), lang)


def empty_loss_picture(lang: str) -> str:
    """The loss plot before any training, drawn once per language (every visitor opening the page sees it)."""
    return stored(_empty_loss_png(lang), "loss")


def figure_box(**kwargs) -> gr.Image:
    """Where a figure shows: with buttons to enlarge it and to download it as PNG."""
    return gr.Image(
        type="filepath",
        format="png",
        image_mode="RGBA",
        interactive=False,
        show_label=False,
        buttons=["fullscreen", "download"],
        **kwargs,
    )


def new_figure(width: float, height: float):
    fig = Figure(figsize=(width, height), dpi=90, layout="constrained")
    return fig, fig.subplots()


def legend_below(fig: Figure, ax, columns: int = 4) -> None:
    """The legend in a row under the plot: never over a line, and clear of the buttons Gradio lays over the
    picture's top right corner (which covered legends placed inside the plot on a phone)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(columns, len(handles)), frameon=False)


def loss_figure(snap: JobSnapshot, lang: str = EN, max_points: int = 2000, frequencies: float | None = None):
    """Training loss per step (thin) with its moving average, validation loss (dots) with its best point
    starred (the checkpoint to generate with), and the letter-frequency level (``frequencies``: the loss of
    knowing only how often each character occurs), the line a model must get well below."""
    lang = figure_lang(lang)
    fig, ax = new_figure(9, 3.1)  # wide and low: at a projector, the status, coach and sample fit beside it
    if snap.train_loss:
        steps = np.array([s for s, _ in snap.train_loss])
        losses = np.array([v for _, v in snap.train_loss])
        stride = max(1, int(np.ceil(len(steps) / max_points)))
        ax.plot(steps[::stride], losses[::stride], color="#fdba74", lw=1, label=t("plot.train_each", lang))
        window = min(len(losses), max(5, len(losses) // 30))
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(
            steps[window - 1 :][::stride], smooth[::stride], color="#ea580c", lw=2.6, label=t("plot.train_smooth", lang)
        )
    if snap.val_loss:
        ax.plot(
            [s for s, _ in snap.val_loss],
            [v for _, v in snap.val_loss],
            "o-",
            color="#2563eb",
            ms=5,
            lw=2,
            label=t("plot.validation", lang),
        )
        step, loss = best_validation(snap.val_loss)
        ax.plot([step], [loss], "*", color="#16a34a", ms=14, zorder=5, label=t("plot.best", lang, step=step))
    if frequencies is not None and (snap.train_loss or snap.val_loss):
        ax.axhline(frequencies, color="#64748b", lw=1, ls="--", label=t("plot.frequencies", lang))
    ax.set_xlabel(t("plot.step", lang))
    ax.set_ylabel(t("plot.loss", lang))
    ax.grid(alpha=0.3)
    if snap.train_loss or snap.val_loss:
        legend_below(fig, ax, columns=3)
    else:
        ax.text(0.5, 0.5, t("plot.empty", lang), ha="center", va="center", transform=ax.transAxes, color="#888")
    return fig


def gradient_figure(curves: dict[str, np.ndarray], lang: str = EN):
    """Gradient size against distance, one curve per cell type (log scale)."""
    lang = figure_lang(lang)
    fig, ax = new_figure(8, 4.2)
    for cell, curve in curves.items():
        ax.semilogy(np.arange(len(curve)), np.maximum(curve, 1e-30), label=cell.upper(), color=CELLS[cell].colour)
    ax.set_xlabel(t("grad.x", lang))
    ax.set_ylabel(t("grad.y", lang))
    ax.set_ylim(bottom=1e-20)
    ax.grid(alpha=0.3, which="both")
    legend_below(fig, ax)
    return fig


def saturation_figure(sat: list[dict], lang: str = EN):
    lang = figure_lang(lang)
    fig, ax = new_figure(7, 3)
    labels, closed, opened = [], [], []
    for layer, gates in enumerate(sat):
        for gate, (lo, hi) in gates.items():
            labels.append(f"L{layer} {t('gate.' + gate, lang, default=gate)}")
            closed.append(lo)
            opened.append(hi)
    y = np.arange(len(labels))
    ax.barh(y, closed, color="#64748b", label=t("gates.shut", lang))
    ax.barh(y, opened, left=closed, color="#f59e0b", label=t("gates.open", lang))
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel(t("gates.x", lang))
    legend_below(fig, ax)
    return fig


def recall_figure(results: list[RecallResult], lang: str = EN):
    """Accuracy against the gap, one line per cell type, with the level of a guess (one key in four)."""
    lang = figure_lang(lang)
    fig, ax = new_figure(8, 4.2)
    for i, cell in enumerate(dict.fromkeys(r.cell for r in results)):  # lines that coincide stay told apart
        mine = [r for r in results if r.cell == cell]
        ax.plot(
            [r.gap for r in mine],
            [r.accuracy for r in mine],
            "os^D"[i % 4] + ("-", "--", ":")[i % 3],
            ms=7 - i,
            lw=2,
            label=cell.upper(),
            color=CELLS[cell].colour,
        )
    ax.axhline(1 / len(KEYS), color="#64748b", lw=1, ls="--", label=t("recall.chance", lang))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(t("recall.x", lang))
    ax.set_ylabel(t("recall.y", lang))
    ax.grid(alpha=0.3)
    legend_below(fig, ax)
    return fig


def compare_figure(runs: dict[str, list[list[tuple[int, float]]]], lang: str = EN):
    """Validation loss against steps: per cell type, the mean over its seeds and the band from the best run to
    the worst (how much one run's luck counts)."""
    lang = figure_lang(lang)
    fig, ax = new_figure(8, 4.2)
    for cell, curves in runs.items():
        curves = [c for c in curves if c]
        if not curves:
            continue
        length = min(len(c) for c in curves)
        steps = [s for s, _ in curves[0][:length]]
        losses = np.array([[v for _, v in c[:length]] for c in curves])
        colour = CELLS[cell].colour
        ax.plot(steps, losses.mean(axis=0), "o-", ms=3, label=cell.upper(), color=colour)
        if len(curves) > 1:
            ax.fill_between(steps, losses.min(axis=0), losses.max(axis=0), color=colour, alpha=0.15, lw=0)
    ax.set_xlabel(t("cmp.x", lang))
    ax.set_ylabel(t("cmp.y", lang))
    ax.grid(alpha=0.3)
    legend_below(fig, ax)
    return fig
