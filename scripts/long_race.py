"""The long race: the Ideas tab's three cells trained alike for long enough that their order settles, on the
chapter's novel, several seeds each; the validation curves go to ``assets/long-race.json``, which the page draws
at once under the live short race (a class cannot wait the half hour this takes).

    python scripts/long_race.py [--steps 3000] [--seeds 0 1 2] [--threads 1]

Every run is ``charlm.lessons.race.comparison_config`` (the short race's settings: the quick preset, about the
same parameters per cell, the same steps) with a validation every 100 steps; the file records the settings, the
curves, each run's seconds, the machine and the command, so that anyone can make it again and compare.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from charlm import train
from charlm.data.corpora import load_builtin
from charlm.lessons.race import LONG_RACE_FILE, comparison_config
from charlm.network.cells import simplest_first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--every", type=int, default=100, help="steps between validations")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=LONG_RACE_FILE)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = load_builtin("anna-karenina")
    runs = []
    for cell in simplest_first():
        for seed in args.seeds:
            config = comparison_config(cell, args.steps, len(corpus.vocab), seed).replace(
                eval_every=args.every, eval_batches=10, num_threads=args.threads
            )
            started = time.perf_counter()
            result = train(corpus, config)
            seconds = time.perf_counter() - started
            runs.append(
                {
                    "cell": cell,
                    "seed": seed,
                    "hidden_size": config.hidden_size,
                    "val_loss": [[step, round(loss, 4)] for step, loss in result.progress.val_loss],
                    "held_out": round(result.progress.held_out[1], 4),
                    "seconds": round(seconds, 1),
                }
            )
            print(f"{cell} seed {seed}: held-out {runs[-1]['held_out']} after {args.steps} steps, {seconds:.0f} s")
    record = {
        "what": "the Ideas tab's race run long: validation loss (nats/char) every few steps, per cell and seed",
        "corpus": "anna-karenina",
        "steps": args.steps,
        "settings": "charlm.lessons.race.comparison_config (the quick preset, about equal parameters per cell)",
        "command": "python scripts/long_race.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {args.threads} torch thread(s), torch {torch.__version__}",
        "made": time.strftime("%Y-%m-%d"),
        "runs": runs,
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print("written", args.out)


if __name__ == "__main__":
    main()
