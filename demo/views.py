"""Turning charlm objects into what the page shows as text: HTML grids, tables, status lines.

Formatting only: every number here comes from ``charlm`` (figures are in ``figures.py``).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from charlm import Batches, Corpus, Vocab, one_hot
from charlm.lessons.coach import Finding
from charlm.lessons.shapes import Stage
from charlm.lessons.step_by_step import BatchStep, CharStep
from charlm.lessons.toy import ToyResult
from charlm.lessons.traces import Guess, mean_surprise
from charlm.serving.jobs import JobSnapshot

from .i18n import EN, FAILED, error_text, t

# Colours for the input/target shift: target column j shares the colour of input column j+1.
PALETTE = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa", "#a5f3fc", "#e5e7eb"]


MARKDOWN_SIGNS = "\\`*_{}[]()<>#+-.!|~:@"  # ":" and "@": no web address or e-mail becomes a link


def plain_text(text: str) -> str:
    """``text`` shown as it is in a Markdown box: HTML escaped and every sign Markdown reads escaped, so that a
    link's text can carry no link, image, form or formatting onto the page."""
    escaped = html.escape(text, quote=False)
    return "".join("\\" + c if c in MARKDOWN_SIGNS else c for c in escaped)


def show_char(c: str) -> str:
    """A visible stand-in for whitespace, so a newline or a space can be seen in a grid."""
    return {"\n": "⏎", " ": "␣", "\t": "⇥", "\r": "␍"}.get(c, c)


def corpus_summary(corpus: Corpus, title: str, lang: str = EN) -> str:
    v = corpus.vocab
    mode = t("summary.one_hot" if v.uses_one_hot else "summary.embedding", lang)
    return t(
        "summary.text",
        lang,
        name=html.escape(title),
        n_chars=f"{len(corpus.data):,}",
        n_vocab=len(v),
        mode=mode,
        n_train=f"{len(corpus.train_data):,}",
        n_val=f"{len(corpus.val_data):,}",
        share=f"{corpus.val_fraction:.0%}",
    )


def vocab_text(vocab: Vocab, lang: str = EN) -> str:
    return "  ".join(f"{i}:{show_char(c)}" for i, c in enumerate(vocab.chars[:2000])) + (
        "  " + t("summary.more", lang, n=len(vocab) - 2000) if len(vocab) > 2000 else ""
    )


def codes_html(corpus: Corpus, n: int = 200) -> str:
    """The first characters over their integer codes, as the chapter prints them."""
    cells = []
    for c, code in zip(corpus.opening(n), corpus.data[:n]):
        cells.append(f'<span class="cl-cell"><b>{html.escape(show_char(c))}</b><i>{int(code)}</i></span>')
    return f'<div class="cl-codes">{"".join(cells)}</div>'


def frequency_frame(corpus: Corpus, top: int = 30) -> pd.DataFrame:
    """The ``top`` most frequent characters and their counts (a label of one character each: thirty of them
    fit under a phone's chart without overlapping; the codes are on the cards above)."""
    counts = np.bincount(corpus.data, minlength=len(corpus.vocab))
    order = np.argsort(-counts, kind="stable")[:top]
    return pd.DataFrame(
        {
            "character": [show_char(corpus.vocab.chars[i]) for i in order],
            "count": counts[order].astype(int),
        }
    )


def reshape_html(batches: Batches, index: int, n_chars: int, lang: str = EN) -> str:
    """How the text becomes N rows and K windows, with the current window marked."""
    N, M, K = batches.batch_size, batches.num_steps, batches.num_batches
    shown_rows = min(N, 8)
    shown_windows = min(K, 40)
    rows = []
    for r in range(shown_rows):
        cells = "".join(f'<span class="cl-win{" cl-on" if j == index else ""}"></span>' for j in range(shown_windows))
        more = "…" if shown_windows < K else ""
        label = t("reshape.row", lang, r=r, start=f"{r * K * M:,}", end=f"{(r + 1) * K * M - 1:,}")
        rows.append(f'<div class="cl-row"><span class="cl-lab">{label}</span>{cells}{more}</div>')
    if shown_rows < N:
        rows.append(f'<div class="cl-row">{t("reshape.more_rows", lang, n=N - shown_rows)}</div>')
    text = t(
        "reshape.text",
        lang,
        n_chars=f"{n_chars:,}",
        k=f"{K:,}",
        n=N,
        m=M,
        nm=f"{N * M:,}",
        dropped=f"{batches.dropped - 1:,}",
        km=f"{K * M:,}",
        index=index,
        start=f"{index * M:,}",
        end=f"{(index + 1) * M - 1:,}",
    )
    return f'<p>{text}</p><div class="cl-strip">{"".join(rows)}</div>'


def grid_html(
    ids: np.ndarray,
    vocab: Vocab,
    show_ints: bool,
    shift: int,
    title: str,
    lang: str = EN,
    max_rows: int = 10,
    max_cols: int = 24,
) -> str:
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
        shown = t(
            "grid.showing",
            lang,
            rows=min(ids.shape[0], max_rows),
            cols=min(ids.shape[1], max_cols),
            all_rows=ids.shape[0],
            all_cols=ids.shape[1],
        )
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
        title = t("onehot.active", lang, rows=len(rows), vocab=len(vocab), steps=len(seq), length=len(sequence))
    else:
        rows = np.arange(len(vocab))
        title = t("onehot.all", lang, vocab=len(vocab), steps=len(seq), length=len(sequence))
    head = "".join(f"<th>{html.escape(show_char(vocab.chars[i]))}</th>" for i in seq)
    body = []
    for r in rows:
        cells = "".join('<td class="on"></td>' if v else "<td></td>" for v in matrix[r])
        body.append(f"<tr><th>{html.escape(show_char(vocab.chars[r]))}</th>{cells}</tr>")
    return (
        f'<div class="cl-onehot"><div class="cl-title">{title}</div><table><tr><th></th>{head}</tr>'
        f'{"".join(body)}</table><div class="cl-note">{t("onehot.note", lang)}</div></div>'
    )


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def failure_text(snap: JobSnapshot, lang: str = EN) -> str:
    """Why a job failed, in ``lang`` (the error itself when the job kept it)."""
    return error_text(snap.failure, lang) if snap.failure else snap.error


LONG_LINE = 30 * 60  # seconds of waiting past which the line is called long


def status_line(snap: JobSnapshot, lang: str = EN) -> str:
    """The chapter's log line ("Epoch: 1/20... Step: 10/3960... loss: ...") with speed and time left."""
    if snap.state == "failed":
        return FAILED + failure_text(snap, lang)
    if snap.state == "waiting":
        if snap.starts_in is None:
            return t("status.in_line", lang, place=snap.place)
        if snap.starts_in > LONG_LINE:  # say so, and what to do meanwhile, rather than promise hours
            return t("status.in_line_long", lang, place=snap.place, eta=format_seconds(snap.starts_in))
        return t("status.in_line_eta", lang, place=snap.place, eta=format_seconds(snap.starts_in))
    if snap.step == 0 or snap.loss is None:  # no step of its own yet (a resumed run starts at its checkpoint's)
        if snap.state in ("stopped", "done"):  # ended before its first step
            return t("status." + snap.state, lang)
        return t("status.starting" if snap.state == "running" else "status.waiting", lang)
    val = t("status.val", lang, loss=snap.val_loss[-1][1]) if snap.val_loss else ""
    if snap.held_out is not None:  # the run's final figure: every held-out character, or a subset past a budget
        _, loss, chars = snap.held_out
        if chars < snap.held_out_chars:
            val += t("status.held_out_part", lang, loss=loss, chars=chars, total=snap.held_out_chars)
        else:
            val += t("status.held_out", lang, loss=loss, chars=chars)
    line = t(
        "status.line",
        lang,
        epoch=snap.epoch,
        epochs=snap.epochs,
        step=snap.step,
        total=snap.total_steps,
        loss=snap.loss,
        spb=snap.sec_per_batch,
        cps=snap.chars_per_sec,
        elapsed=format_seconds(snap.elapsed),
        eta=format_seconds(snap.eta),
        val=val,
    )
    if snap.epochs_asked > snap.epochs:  # "Epoch: 1/3" beside a form that says 50: the step limit comes first
        line += t("status.cut", lang, steps=snap.total_steps, asked=snap.epochs_asked)
    return f"{t('status.' + snap.state, lang)} {line}"


def batch_step_text(s: BatchStep, lang: str = EN) -> str:
    """One training step, stage by stage: the batch, its loss, the gradient and clipping, the update, and the
    loss on the same batch afterwards."""
    if not s.clip:
        clipping = t("step.clip_off", lang)
    elif s.clipped:
        clipping = t("step.clip_fired", lang, clip=s.clip, scale=s.clip / s.grad_norm)
    else:
        clipping = t("step.clip_kept", lang, clip=s.clip)
    lines = [
        t(
            "step.head",
            lang,
            step=s.step,
            batch=s.batch + 1,
            batches=s.batches,
            epoch=s.epoch,
            text=html.escape(s.first_input[:40].replace("\n", "⏎")),
        ),
        "- " + t("step.loss", lang, loss=s.loss),
        "- " + t("step.gradient", lang, before=s.grad_norm, after=s.grad_norm_after, clipping=clipping),
        "- " + t("step.update", lang, lr=s.learning_rate, change=s.change, relative=s.relative_change),
        "- "
        + t(
            "step.after_lower" if s.loss_after < s.loss_before else "step.after_higher",
            lang,
            before=s.loss_before,
            after=s.loss_after,
        ),
    ]
    return "\n".join(lines)


def char_step_html(s: CharStep, vocab: Vocab, seed: int, lang: str = EN, show: int = 8) -> str:
    """One sampling step: the memory carried in, the distribution, the top-N cut, and the draw."""
    memory = t("punct.comma", lang).join(
        t("char.layer", lang, layer=i, norm=norm, moved=moved) for i, (norm, moved) in enumerate(s.memory)
    )
    kept = {index: (p, sum(s.kept_probs[:rank])) for rank, (index, p) in enumerate(zip(s.kept, s.kept_probs))}
    order = np.argsort(-s.probs, kind="stable")[: max(show, len(s.kept)) if len(s.kept) <= 20 else show]
    rows = []
    for index in order:
        index = int(index)
        shown = html.escape(show_char(vocab.chars[index]))
        if index in kept:
            p, start = kept[index]
            cells = f"<td>{p:.3f}</td><td>{start:.3f} – {start + p:.3f}</td>"
        else:
            cells = f'<td colspan="2">{t("char.cut", lang)}</td>'
        style = ' style="background:#bbf7d0;font-weight:600"' if index == s.chosen else ""
        rows.append(f"<tr{style}><td>{shown}</td><td>{s.probs[index]:.3f}</td>{cells}</tr>")
    head = "".join(f"<th>{t(key, lang)}</th>" for key in ("char.char", "char.p", "char.p_kept", "char.range"))
    drawn = t("char.drawn", lang, u=s.uniform, char=html.escape(show_char(s.char)), n=len(s.kept))
    return (
        f'<div class="cl-note">{t("char.head", lang, position=s.position, seed=seed)} {memory}</div>'
        f'<div class="cl-grid"><table><tr>{head}</tr>{"".join(rows)}</table></div><p>{drawn}</p>'
    )


def shape_text(dims: tuple[int, ...]) -> str:
    """A tensor's shape as the chapter writes it: (2,048, 83)."""
    return f"({', '.join(f'{d:,}' for d in dims)})"


def shapes_html(stages: list[Stage], lang: str = EN) -> str:
    """One training step's tensors, in order, with their shapes: what N, M, the hidden size and C change."""
    rows = "".join(
        f"<tr><td>{t('shape.' + s.key, lang, layer=s.layer)}</td><td>{shape_text(s.shape)}</td></tr>" for s in stages
    )
    return (
        f'<div class="cl-grid"><table><tr><th>{t("shape.what", lang)}</th><th>{t("shape.shape", lang)}</th></tr>'
        f'{rows}</table><div class="cl-note">{t("shape.note", lang)}</div></div>'
    )


COACH_SIGNS = {"good": "✓", "note": "•", "warn": "⚠"}  # text signs, drawn by every font (no emoji)


def coach_text(findings: list[Finding], lang: str = EN) -> str:
    """The coach's findings as a short list, each with the numbers behind it ("" when it has nothing to say)."""
    if not findings:
        return ""
    lines = [f"- {COACH_SIGNS[f.level]} {t('coach.' + f.key, lang, **f.numbers)}" for f in findings]
    return f"**{t('coach.title', lang)}**\n" + "\n".join(lines)


def probability_frame(probs: np.ndarray, vocab: Vocab, top_n: int, lang: str = EN, show: int = 20) -> pd.DataFrame:
    order = np.argsort(-probs, kind="stable")[: max(show, top_n) if top_n <= 40 else show]
    return pd.DataFrame(
        {
            "character": [f"{show_char(vocab.chars[i])}" for i in order],
            "probability": probs[order].astype(float),
            "kind": [t("gen.in_top" if rank < top_n else "gen.out_top", lang) for rank in range(len(order))],
        }
    )


# ------------------------------------------------------------------ tab 5: inside the network
def toy_table(r: ToyResult, lang: str = EN) -> str:
    """The toy's pairs, one small table each (stacked on a phone, side by side where there is room): the
    one-hot input, then the scores and the softmax before and after training, one column per letter. One
    wide table of all four stages needed 854 px and hid the "after" columns off a phone's screen."""
    letters = "".join(f"<th>{html.escape(show_char(c))}</th>" for c in r.vocab)
    stages = (
        ("toy.scores_before", r.scores_before, "{:+.2f}"),
        ("toy.softmax_before", r.probs_before, "{:.2f}"),
        ("toy.scores_after", r.scores_after, "{:+.2f}"),
        ("toy.softmax_after", r.probs_after, "{:.2f}"),
    )
    cards = []
    for i, (context, target) in enumerate(r.pairs):
        right = r.vocab.index(target)
        rows = [f"<tr><th>{t('toy.input', lang)}</th>" + "".join(f"<td>{int(v)}</td>" for v in r.one_hot[i]) + "</tr>"]
        for key, values, fmt in stages:
            cells = "".join(
                f'<td class="{"cl-right" if j == right else ""}">{fmt.format(v)}</td>' for j, v in enumerate(values[i])
            )
            rows.append(f"<tr><th>{t(key, lang)}</th>{cells}</tr>")
        cards.append(
            f'<div class="cl-grid cl-toy-pair"><div class="cl-title">{t("toy.pair", lang)} '
            f"<b>{html.escape(context)}</b> → <b>{html.escape(target)}</b></div>"
            f"<table><tr><th></th>{letters}</tr>{''.join(rows)}</table></div>"
        )
    note = t("toy.note", lang, before=r.losses[0], after=r.losses[-1], steps=len(r.losses))
    return f'<div class="cl-toy">{"".join(cards)}</div><div class="cl-note">{note}</div>'


def coloured_text(text: str, values: np.ndarray) -> str:
    scale = max(1e-6, float(np.max(np.abs(values))))
    spans = []
    for c, v in zip(text, values):
        a = min(1.0, abs(float(v)) / scale)
        rgb = "220,38,38" if v > 0 else "37,99,235"
        shown = "⏎<br>" if c == "\n" else html.escape(c)
        spans.append(f'<span title="{v:+.3f}" style="background:rgba({rgb},{a:.2f})">{shown}</span>')
    return f'<div class="cl-text">{"".join(spans)}</div>'


def guesses_html(text: str, guesses: list[Guess], lang: str = EN) -> str:
    spans = [html.escape(text[0])]
    for g in guesses:
        surprise = 1.0 - g.prob
        tip = html.escape(
            ", ".join(f"{show_char(c)} {p:.0%}" for c, p in g.top) + f" | {t('guess.actual', lang)}: {g.prob:.1%}"
        )
        shown = "⏎<br>" if g.char == "\n" else html.escape(g.char)
        spans.append(f'<span title="{tip}" style="background:rgba(234,88,12,{surprise:.2f})">{shown}</span>')
    return (
        f'<div class="cl-text">{"".join(spans)}</div>'
        f'<div class="cl-note">{t("guess.mean", lang, loss=mean_surprise(guesses))}</div>'
    )
