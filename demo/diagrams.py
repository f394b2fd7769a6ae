"""The chapter's network diagrams, drawn in HTML from a model's live values (``charlm.lessons.unrolled.unroll``): the
network unrolled in time, the same network folded into its loop, and one step inside each layer's cell; and
the sampling lab's samples and distributions (``charlm.lessons.strategies``).

Drawing only: every value comes from ``charlm``. Each vector is a strip of small squares, one per unit shown:
states (-1 to 1) red for positive and blue for negative, gates (0 to 1) from white (shut) to green (open);
each square's tooltip gives the unit and its value.
"""

from __future__ import annotations

import html

import numpy as np

from charlm.lessons.shapes import Pattern
from charlm.lessons.strategies import Distribution, LabSample, Strategy
from charlm.lessons.unrolled import StepView, Unrolled
from charlm.network.cells import CELLS

from .i18n import EN, t
from .views import shape_text, show_char

GATE_RGB, PLUS_RGB, MINUS_RGB = "22,163,74", "220,38,38", "37,99,235"

# What one step inside each kind of cell is drawn as, top to bottom: (what, where it comes from, its scale).
# "before" rows are the memory carried in; the rest are what the cell computed at this character.
CELL_ROWS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "lstm": (
        ("cell", "before", "state"),
        ("forget", "after", "gate"),
        ("input", "after", "gate"),
        ("candidate", "after", "state"),
        ("cell", "after", "state"),
        ("output", "after", "gate"),
        ("hidden", "after", "state"),
    ),
    "gru": (
        ("hidden", "before", "state"),
        ("reset", "after", "gate"),
        ("candidate", "after", "state"),
        ("update", "after", "gate"),
        ("hidden", "after", "state"),
    ),
    "rnn": (("hidden", "before", "state"), ("hidden", "after", "state")),
}
ROWS_OF_UNKNOWN_CELL = (("hidden", "before", "state"), ("hidden", "after", "state"))  # a cell added later


def _colour(value: float, scale: str) -> str:
    if scale == "gate":
        return f"rgba({GATE_RGB},{min(1.0, max(0.0, value)):.2f})"
    strength = float(np.tanh(abs(value) * 1.5))  # a cell's memory may pass 1: it saturates gently
    return f"rgba({PLUS_RGB if value > 0 else MINUS_RGB},{strength:.2f})"


def strip(values: np.ndarray, units: np.ndarray, scale: str) -> str:
    """One vector as a row of squares, one per unit shown."""
    squares = "".join(
        f'<i title="{int(u)}: {float(v):+.3f}" style="background:{_colour(float(v), scale)}"></i>'
        for u, v in zip(units, values)
    )
    return f'<span class="cl-vec">{squares}</span>'


def _char(c: str) -> str:
    return html.escape(show_char(c))


def _guesses(step: StepView, lang: str) -> str:
    lines = [f'<span class="{"cl-hit" if c == step.actual else ""}">{_char(c)} {p:.0%}</span>' for c, p in step.guesses]
    if step.actual is not None and step.actual not in [c for c, _ in step.guesses]:
        lines.append(f'<span class="cl-miss">{_char(step.actual)} {step.actual_prob:.0%}</span>')
    return "<br>".join(lines)


def unrolled_html(view: Unrolled, lang: str = EN) -> str:
    """The network unrolled over the window: characters in at the bottom, each layer's memory h carried to
    the right (→) and up (↑), the guesses for the next character at the top; the chosen step outlined."""
    steps, layers = view.steps, len(view.units)
    cells: list[str] = []

    def row(label: str, draw, between: str = "") -> None:
        cells.append(f'<div class="cl-ul">{label}</div>')
        for k, step in enumerate(steps):
            if k:
                cells.append(f'<div class="cl-ua">{between}</div>')
            now = " cl-now" if step is view.current else ""
            cells.append(f'<div class="cl-uc{now}">{draw(step)}</div>')

    row(t("unroll.out", lang), lambda s: _guesses(s, lang))
    for layer in reversed(range(layers)):
        row("", lambda s: "↑")
        row(
            t("unroll.layer", lang, layer=layer),
            lambda s, l=layer: strip(s.after[l]["hidden"], view.units[l], "state"),
            between="→",
        )
    row("", lambda s: "↑")
    row(t("unroll.in", lang), lambda s: f"<b>{_char(s.char)}</b><br><small>#{s.code}</small>")
    columns = "auto " + " ".join(["auto"] + ["1.2em auto"] * (len(steps) - 1))
    # the scroll box runs right to left, so that it opens on the newest step, the chosen one (a phone shows
    # three or four steps; earlier ones are a sideways swipe away)
    legend = t("unroll.legend", lang, units=len(view.units[0]), hidden=view.hidden_size, vocab=view.vocab_size)
    return (
        f'<div class="cl-unroll-box"><div class="cl-unroll" style="grid-template-columns:{columns}">'
        f'{"".join(cells)}</div></div><div class="cl-note">{legend}</div>'
    )


def folded_html(view: Unrolled, lang: str = EN) -> str:
    """The same network folded: one box per layer, its output fed back into itself (↻) at the next step."""
    step, name = view.current, view.cell.upper()
    colour = CELLS[view.cell].colour  # each cell type's colour, everywhere
    parts = [f'<div class="cl-fold-out">{_guesses(step, lang)}</div>', "<div>↑</div>"]
    for layer in reversed(range(len(view.units))):
        parts += [
            f'<div class="cl-fold-box" style="border-color:{colour}">{name} · '
            f"{t('unroll.layer', lang, layer=layer)} <b>↻</b></div>",
            "<div>↑</div>",
        ]
    parts.append(f'<div class="cl-fold-in"><b>{_char(step.char)}</b> #{step.code}</div>')
    return f'<div class="cl-fold">{"".join(parts)}</div><div class="cl-note">{t("unroll.folded", lang)}</div>'


def cell_html(view: Unrolled, lang: str = EN) -> str:
    """Inside the cell at the chosen character, one block per layer (the top layer first, fed by the one
    below): each quantity the cell computes, in the order it computes it, with its mean over the units shown."""
    step, rows = view.current, CELL_ROWS.get(view.cell, ROWS_OF_UNKNOWN_CELL)
    blocks = []
    for layer in reversed(range(len(view.units))):
        lines = []
        for what, when, scale in rows:
            values = (step.before if when == "before" else step.after)[layer].get(what)
            if values is None:
                continue
            label = t(f"part.{what}_{when}" if when == "before" else f"part.{what}", lang)
            lines.append(
                f'<div class="cl-row"><span class="cl-part">{label}</span>'
                f"{strip(values, view.units[layer], scale)}"
                f'<span class="cl-mean">{float(np.mean(values)):+.2f}</span></div>'
            )
        head = t("part.head", lang, cell=view.cell.upper(), layer=layer, char=_char(step.char), position=step.position)
        blocks.append(f'<div class="cl-block"><div class="cl-title">{head}</div>{"".join(lines)}</div>')
    formula = t(f"part.formula_{view.cell}", lang, default="")  # a cell added later may have none yet
    return (
        f'<div class="cl-formula">{formula}</div>'
        + '<div class="cl-up">↑</div>'.join(blocks)
        + f'<div class="cl-note">{t("part.legend", lang)}</div>'
    )


def lab_html(samples: list[LabSample], lang: str = EN) -> str:
    """The lab's samples side by side (wrapping on a phone), each with its scores."""
    cards = []
    for s in samples:
        st = s.strategy
        settings = t(f"lab.{st.key}", lang, n=st.top_n, p=st.top_p, temperature=st.temperature)
        scores = t("lab.scores", lang, bits=s.bits_per_char, mass=s.mass_kept, kept=s.kept_size)
        cards.append(
            f'<div class="cl-card"><div class="cl-title">{settings}</div><div class="cl-note">{scores}</div>'
            f'<div class="cl-text cl-sample">{html.escape(s.text)}</div></div>'
        )
    return f'<div class="cl-cards">{"".join(cards)}</div>'


def distribution_html(d: Distribution, strategies: tuple[Strategy, ...], lang: str = EN, show: int = 10) -> str:
    """The model's likeliest next characters at one position, and the share each strategy gives each of them
    (blank: cut). The rows below the table's last say how much of the model's probability lies in the tail."""
    order = np.argsort(-d.probs, kind="stable")[:show]
    head = "".join(
        f"<th>{t(f'lab.short_{s.key}', lang, n=s.top_n, p=s.top_p, temperature=s.temperature)}</th>" for s in strategies
    )
    rows = []
    for j in order:
        cells = "".join(
            f"<td>{d.weights[s.key][j]:.2f}</td>" if d.weights[s.key][j] > 0 else "<td></td>" for s in strategies
        )
        rows.append(f"<tr><td><b>{_char(d.chars[j])}</b></td><td>{d.probs[j]:.3f}</td>{cells}</tr>")
    tail = float(1 - d.probs[order].sum())
    read = html.escape(d.context[-40:].replace("\n", "⏎"))  # the end of what the model has read
    return (
        f'<div class="cl-note">{t("lab.after", lang, text=read)}</div>'
        f'<div class="cl-grid"><table><tr><th>{t("char.char", lang)}</th><th>{t("lab.model", lang)}</th>{head}</tr>'
        f'{"".join(rows)}</table></div><div class="cl-note">{t("lab.tail", lang, n=show, tail=tail)}</div>'
    )


# Which of four drawn steps get an input and an output, for each of the chapter's input/output patterns.
PATTERN_STEPS = {
    "one_to_one": ((1,), (1,)),
    "one_to_many": ((1, 0, 0, 0), (1, 1, 1, 1)),
    "many_to_one": ((1, 1, 1, 1), (0, 0, 0, 1)),
    "many_to_many": ((1, 1, 1, 1), (1, 1, 1, 1)),
}


def patterns_html(patterns: list[Pattern], lang: str = EN) -> str:
    """The chapter's four patterns as small unrolled drawings (inputs below, the cell in the middle, outputs
    above), each with the shapes the current settings give and where the app does it."""
    cards = []
    for p in patterns:
        ins, outs = PATTERN_STEPS[p.key]
        cells: list[str] = []
        for kind, row in (("out", outs), ("cell", None), ("in", ins)):
            for k in range(len(ins)):
                if k:
                    cells.append(f'<div class="cl-ua">{"→" if row is None else ""}</div>')
                shown = row is None or row[k]
                cells.append(f'<div class="cl-io cl-io-{kind}"></div>' if shown else "<div></div>")
        columns = " ".join(["auto"] + ["1em auto"] * (len(ins) - 1))
        shape = t("io.shape", lang, inputs=shape_text(p.inputs), outputs=shape_text(p.outputs), steps=p.steps)
        cards.append(
            f'<div class="cl-card"><div class="cl-title">{t("io." + p.key, lang)}</div>'
            f'<div class="cl-iogrid" style="grid-template-columns:{columns}">{"".join(cells)}</div>'
            f'<div>{shape}</div><div class="cl-note">{t("io.where_" + p.key, lang)}</div></div>'
        )
    return f'<div class="cl-cards">{"".join(cards)}</div><div class="cl-note">{t("io.legend", lang)}</div>'
