"""Turning charlm objects into what the page shows: HTML grids, tables and figures.

Formatting only: every number here comes from ``charlm``.
"""

from __future__ import annotations

import html

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure

from charlm import Batches, Corpus, Vocab, one_hot
from charlm.jobs import JobSnapshot

from .i18n import EN, error_text, t

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "SimHei")


def _cjk_font() -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in names), None)


# Chinese characters in figures (vocabulary ticks, labels): fall back to a CJK font when one is
# installed (Debian: fonts-noto-cjk); without one they would show as empty boxes.
CJK_FONT = _cjk_font()
if CJK_FONT:
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", CJK_FONT]


def figure_lang(lang: str) -> str:
    """The language for figure labels: without a CJK font Chinese would be boxes, so English."""
    return lang if lang == EN or CJK_FONT else EN


def new_figure(width: float, height: float):
    """A figure and its axes without pyplot: pyplot keeps global state and is not safe to use
    from the several threads that serve a class at once; a bare Figure is."""
    fig = Figure(figsize=(width, height), dpi=90)
    return fig, fig.subplots()

# Colours for the input/target shift: target column j shares the colour of input column j+1.
PALETTE = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa", "#a5f3fc", "#e5e7eb"]


def show_char(c: str) -> str:
    """A visible stand-in for whitespace, so a newline or a space can be seen in a grid."""
    return {"\n": "⏎", " ": "␣", "\t": "⇥", "\r": "␍"}.get(c, c)


def corpus_summary(corpus: Corpus, title: str, lang: str = EN) -> str:
    v = corpus.vocab
    mode = t("summary.one_hot" if v.uses_one_hot else "summary.embedding", lang)
    return t("summary.text", lang, name=html.escape(title), n_chars=f"{len(corpus.data):,}", n_vocab=len(v),
             mode=mode, n_train=f"{len(corpus.train_data):,}", n_val=f"{len(corpus.val_data):,}",
             share=f"{corpus.val_fraction:.0%}")


def vocab_text(vocab: Vocab, lang: str = EN) -> str:
    return "  ".join(f"{i}:{show_char(c)}" for i, c in enumerate(vocab.chars[:2000])) + (
        "  " + t("summary.more", lang, n=len(vocab) - 2000) if len(vocab) > 2000 else "")


def codes_html(corpus: Corpus, n: int = 200) -> str:
    """The first characters over their integer codes, as the chapter prints them."""
    cells = []
    for c, code in zip(corpus.text[:n], corpus.data[:n]):
        cells.append(f'<span class="cl-cell"><b>{html.escape(show_char(c))}</b><i>{int(code)}</i></span>')
    return f'<div class="cl-codes">{"".join(cells)}</div>'


def frequency_frame(corpus: Corpus, top: int = 40) -> pd.DataFrame:
    counts = np.bincount(corpus.data, minlength=len(corpus.vocab))
    order = np.argsort(-counts, kind="stable")[:top]
    return pd.DataFrame({
        "character": [f"{show_char(corpus.vocab.chars[i])} ({i})" for i in order],
        "count": counts[order].astype(int),
    })


def reshape_html(batches: Batches, index: int, n_chars: int, lang: str = EN) -> str:
    """How the text becomes N rows and K windows, with the current window marked."""
    N, M, K = batches.batch_size, batches.num_steps, batches.num_batches
    shown_rows = min(N, 8)
    shown_windows = min(K, 40)
    rows = []
    for r in range(shown_rows):
        cells = "".join(
            f'<span class="cl-win{" cl-on" if j == index else ""}"></span>' for j in range(shown_windows))
        more = "…" if K > shown_windows else ""
        label = t("reshape.row", lang, r=r, start=f"{r * K * M:,}", end=f"{(r + 1) * K * M - 1:,}")
        rows.append(f'<div class="cl-row"><span class="cl-lab">{label}</span>{cells}{more}</div>')
    if N > shown_rows:
        rows.append(f'<div class="cl-row">{t("reshape.more_rows", lang, n=N - shown_rows)}</div>')
    text = t("reshape.text", lang, n_chars=f"{n_chars:,}", k=f"{K:,}", n=N, m=M, nm=f"{N * M:,}",
             dropped=f"{batches.dropped - 1:,}", km=f"{K * M:,}", index=index, start=f"{index * M:,}",
             end=f"{(index + 1) * M - 1:,}")
    return f"<p>{text}</p>" + "".join(rows)


def grid_html(ids: np.ndarray, vocab: Vocab, show_ints: bool, shift: int, title: str, lang: str = EN,
              max_rows: int = 10, max_cols: int = 24) -> str:
    """A batch as a table of characters; the colour of column j is that of input column j+shift."""
    rows = []
    for r in range(min(ids.shape[0], max_rows)):
        cells = []
        for j in range(min(ids.shape[1], max_cols)):
            code = int(ids[r, j])
            label = str(code) if show_ints else html.escape(show_char(vocab.chars[code]))
            colour = PALETTE[(j + shift) % len(PALETTE)]
            cells.append(f'<td style="background:{colour}">{label}</td>')
        rows.append(f"<tr><th>{r}</th>{''.join(cells)}</tr>")
    note = ""
    if ids.shape[0] > max_rows or ids.shape[1] > max_cols:
        shown = t("grid.showing", lang, rows=min(ids.shape[0], max_rows), cols=min(ids.shape[1], max_cols),
                  all_rows=ids.shape[0], all_cols=ids.shape[1])
        note = f'<div class="cl-note">{shown}</div>'
    return f'<div class="cl-grid"><div class="cl-title">{title}</div><table>{"".join(rows)}</table>{note}</div>'


def one_hot_html(sequence: np.ndarray, vocab: Vocab, lang: str = EN, max_steps: int = 40) -> str:
    """The one-hot matrix (vocabulary × steps) of one sequence as a grid of cells.

    HTML rather than a figure: it costs the server next to nothing when a slider moves, and stays
    crisp on a projector. A large vocabulary shows only the rows that light up.
    """
    seq = np.asarray(sequence[:max_steps])
    matrix = one_hot(seq, len(vocab)).T  # (vocab, steps)
    if len(vocab) > 100:
        rows = np.unique(seq)
        title = t("onehot.active", lang, rows=len(rows), vocab=len(vocab), steps=len(seq))
    else:
        rows = np.arange(len(vocab))
        title = t("onehot.all", lang, vocab=len(vocab), steps=len(seq))
    head = "".join(f"<th>{html.escape(show_char(vocab.chars[i]))}</th>" for i in seq)
    body = []
    for r in rows:
        cells = "".join('<td class="on"></td>' if v else "<td></td>" for v in matrix[r])
        body.append(f"<tr><th>{html.escape(show_char(vocab.chars[r]))}</th>{cells}</tr>")
    return (f'<div class="cl-onehot"><div class="cl-title">{title}</div><table><tr><th></th>{head}</tr>'
            f'{"".join(body)}</table><div class="cl-note">{t("onehot.note", lang)}</div></div>')


def loss_figure(snap: JobSnapshot, lang: str = EN, max_points: int = 2000):
    """Training loss per step (thin) with its moving average, and validation loss (dots)."""
    lang = figure_lang(lang)
    fig, ax = new_figure(9, 3.6)
    if snap.train_loss:
        steps = np.array([s for s, _ in snap.train_loss])
        losses = np.array([v for _, v in snap.train_loss])
        stride = max(1, int(np.ceil(len(steps) / max_points)))
        ax.plot(steps[::stride], losses[::stride], color="#fdba74", lw=0.8, label=t("plot.train_each", lang))
        window = min(len(losses), max(5, len(losses) // 30))
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:][::stride], smooth[::stride], color="#ea580c", lw=1.8, label=t("plot.train_smooth", lang))
    if snap.val_loss:
        ax.plot([s for s, _ in snap.val_loss], [v for _, v in snap.val_loss], "o-", color="#2563eb", ms=4,
                lw=1.2, label=t("plot.validation", lang))
    ax.set_xlabel(t("plot.step", lang))
    ax.set_ylabel(t("plot.loss", lang))
    ax.grid(alpha=0.3)
    if snap.train_loss or snap.val_loss:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.5, t("plot.empty", lang), ha="center", va="center",
                transform=ax.transAxes, color="#888")
    fig.tight_layout()
    return fig


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def failure_text(snap: JobSnapshot, lang: str = EN) -> str:
    """Why a job failed, in ``lang`` (the error itself when the job kept it)."""
    return error_text(snap.failure, lang) if snap.failure else snap.error


def status_line(snap: JobSnapshot, lang: str = EN) -> str:
    """The chapter's log line ("Epoch: 1/20... Step: 10/3960... loss: ...") with speed and time left."""
    if snap.state == "failed":
        return f"❌ {failure_text(snap, lang)}"
    if snap.step == 0:
        return t("status.starting" if snap.state == "running" else "status.waiting", lang)
    val = t("status.val", lang, loss=snap.val_loss[-1][1]) if snap.val_loss else ""
    line = t("status.line", lang, epoch=snap.epoch, epochs=snap.epochs, step=snap.step, total=snap.total_steps,
             loss=snap.loss, spb=snap.sec_per_batch, cps=snap.chars_per_sec, elapsed=format_seconds(snap.elapsed),
             eta=format_seconds(snap.eta), val=val)
    return f"{t('status.' + snap.state, lang)} {line}"


def probability_frame(probs: np.ndarray, vocab: Vocab, top_n: int, lang: str = EN, show: int = 20) -> pd.DataFrame:
    order = np.argsort(-probs, kind="stable")[: max(show, top_n) if top_n <= 40 else show]
    return pd.DataFrame({
        "character": [f"{show_char(vocab.chars[i])}" for i in order],
        "probability": probs[order].astype(float),
        "kind": [t("gen.in_top" if rank < top_n else "gen.out_top", lang) for rank in range(len(order))],
    })
