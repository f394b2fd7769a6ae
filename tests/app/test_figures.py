"""The figures keep their point on a phone and at the back of a room: every legend sits under its plot (Gradio's
buttons lie over the picture's top right corner, where legends inside the plot were covered), and the text is
drawn large enough to read once the picture is shrunk to its box."""

import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from charlm.lessons.recall import RecallResult
from charlm.serving.jobs import JobSnapshot
from demo import figures


def _snapshot() -> JobSnapshot:
    snap = JobSnapshot("running")
    snap.train_loss = [(i, 4.4 * np.exp(-i / 300) + 1.5) for i in range(1, 600)]
    snap.val_loss = [(i, 4.4 * np.exp(-i / 300) + 1.6) for i in range(100, 600, 100)]
    return snap


FIGURES = {
    "loss": lambda lang: figures.loss_figure(_snapshot(), lang, frequencies=3.3),
    "gradients": lambda lang: figures.gradient_figure({"rnn": np.logspace(0, -9, 30), "lstm": np.ones(30)}, lang),
    "gates": lambda lang: figures.saturation_figure([{"input": (0.1, 0.3), "forget": (0.0, 0.6)}], lang),
    "recall": lambda lang: figures.recall_figure(
        [RecallResult(cell, gap, acc, 1.0, 1.0) for cell in ("gru", "lstm") for gap, acc in ((5, 1.0), (20, 0.9))],
        lang,
    ),
    "race": lambda lang: figures.compare_figure({"rnn": [[(50, 2.4), (100, 2.2)]], "lstm": [[(50, 2.6)]]}, lang),
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_every_legend_lies_under_its_plot_and_the_text_is_large(name, lang):
    fig = FIGURES[name](lang)
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(120)  # as the page draws it (``figures.png_bytes``)
    canvas.draw()
    renderer = canvas.get_renderer()
    (ax,) = fig.axes
    assert ax.get_legend() is None, f"{name}: a legend inside the plot"
    (legend,) = fig.legends
    plot = ax.get_tightbbox(renderer)
    assert legend.get_window_extent(renderer).y1 <= plot.y0 + 1, f"{name}: the legend is not under the plot"
    width = fig.get_figwidth() * 120
    for text in [*ax.get_xticklabels(), *ax.get_yticklabels(), *legend.get_texts()]:
        if text.get_text():
            height = text.get_window_extent(renderer).height
            # shown at the width of a projector's box (900 device px) it is at least 15 device px tall
            assert height * 900 / width >= 15, f"{name}: {text.get_text()!r} at {height * 900 / width:.0f} px"


def test_a_downloaded_figure_is_named_by_what_it_shows(tmp_path):
    figures.keep_pictures_in(tmp_path)
    path = Path(figures.picture(figures.loss_figure, _snapshot(), "en"))
    assert re.fullmatch(r"charlm-loss-[0-9a-f]{12}\.png", path.name) and path.parent == tmp_path
    assert Path(figures.empty_loss_picture("en")).name.startswith("charlm-loss-")
