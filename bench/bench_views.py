"""How long each of the chapter's live views takes to answer, on the shipped 2×512 model and a 200-character
passage: the work of each handler (maths and drawing), without the network and Gradio around it.

    python bench/bench_views.py [--chars 200] [--repeat 5]

Goal (issue 15): each view ≤ 1 s on these CPUs. The reference in the same run is the Generate tab writing the
same number of characters, so the ratios hold on a busy machine where the seconds do not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import CORPORA, machine
from charlm.lessons.shapes import io_patterns, model_shapes
from charlm.lessons.strategies import LAB, distribution_at, sampling_lab
from charlm.lessons.traces import feature_correlations, gate_saturation, next_char_guesses, text_features, trace
from charlm.lessons.unrolled import unroll
from charlm.sampling.sampler import Sampler
from charlm.training.checkpoint import load_checkpoint
from demo import diagrams, figures, views

ASSETS = Path(__file__).resolve().parents[1] / "assets"
GOAL_SECONDS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    big = load_checkpoint(ASSETS / "anna-2x512.safetensors")
    lstm, rnn = Sampler(big.model, big.vocab), Sampler(*_loaded(ASSETS / "anna-quick-rnn-1x256.safetensors"))
    text = (CORPORA / "anna.txt").read_text(encoding="utf-8")
    passage = text[10_000 : 10_000 + args.chars]
    middle = args.chars // 2

    def unrolled_and_cells():
        view = unroll(trace(lstm, passage), lstm, middle)
        beside = unroll(trace(rnn, passage), rnn, middle)
        return (
            diagrams.unrolled_html(view),
            diagrams.folded_html(view),
            diagrams.cell_html(view),
            diagrams.cell_html(beside),
        )

    def cells_tracked():
        tr = trace(lstm, passage)
        acts = tr.layers[1]["cell"]
        return (
            feature_correlations(acts, text_features(passage)),
            views.coloured_text(passage, acts[:, 0]),
            figures.picture(figures.saturation_figure, gate_saturation(tr), "en"),
        )

    def guesses():
        return views.guesses_html(passage, next_char_guesses(lstm, passage))

    def lab():
        runs = sampling_lab(lstm, "Far", args.chars, seed=1)
        chapter = runs[1]
        return (
            diagrams.lab_html(runs),
            diagrams.distribution_html(distribution_at(lstm, "Far" + chapter.text[: chapter.most_uncertain]), LAB),
        )

    def shapes():
        config = big.train_config
        return diagrams.patterns_html(io_patterns(config, len(big.vocab))) + views.shapes_html(
            model_shapes(config, len(big.vocab))
        )

    def generate():  # the reference: the Generate tab's own work for as many characters
        return lstm.generate("Far", args.chars, top_n=4, seed=1)

    print(
        f"# the chapter's views, 2×512 LSTM, a {args.chars}-character passage, median of {args.repeat} — "
        f"{machine()}, load average {os.getloadavg()[0]:.2f}"
    )
    reference = _median(generate, args.repeat)
    print(f"reference: Generate, {args.chars} characters: {reference * 1000:.0f} ms")
    print("| view | ms | × Generate | goal ≤ 1 s |")
    print("|---|---:|---:|---|")
    for name, fn in (
        ("unrolled network + cell view + plain RNN beside", unrolled_and_cells),
        ("what the cells track (trace, correlations, gate chart)", cells_tracked),
        ("next-character guesses", guesses),
        (f"sampling lab (6 × {args.chars} characters + distribution)", lab),
        ("four patterns + shapes", shapes),
    ):
        seconds = _median(fn, args.repeat)
        print(
            f"| {name} | {seconds * 1000:,.0f} | {seconds / reference:.1f} | "
            f"{'met' if seconds <= GOAL_SECONDS else 'NOT MET'} |"
        )


def _loaded(path: Path):
    ckpt = load_checkpoint(path)
    return ckpt.model, ckpt.vocab


def _median(fn, repeat: int) -> float:
    fn()  # warm: first calls allocate
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    main()
