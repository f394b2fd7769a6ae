"""Command line: ``python -m charlm train | sample | evaluate | export``.

Every ``TrainConfig`` field is a flag of ``train`` (``--hidden-size 128``, ``--cell gru``), so
the CLI and the web app share one set of settings and presets. Bad arguments or files print one
line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from charlm.data.corpora import REGISTRY, builtin_names, corpus_text, download, resolve_corpus_path
from charlm.data.prepared import is_prepared, load_prepared, prepare
from charlm.data.vocab import Corpus, Vocab, load_text
from charlm.errors import CharLMError
from charlm.lessons.coach import RunFacts, clipping_fired, diagnose
from charlm.sampling.pick import check_settings, default_prime, prepare_prime
from charlm.sampling.sampler import PRECISIONS, Sampler
from charlm.training.checkpoint import Checkpoint, best_checkpoint, latest_checkpoint, load_checkpoint, save_checkpoint
from charlm.training.config import PRESETS, TrainConfig, preset
from charlm.training.distributed import ALONE, Ranks, join, leave
from charlm.training.evaluate import score_held_out
from charlm.training.loop import CheckpointEvent, EvalEvent, SampleEvent, StepEvent, train
from charlm.training.memory import device_memory_bytes, scoring_rows_that_fit


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training settings (override the preset)")
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = type(getattr(defaults, f.name))
        help_text = f.metadata.get("help", "")
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=None, metavar=f.name.upper(), help=help_text)


def _config_overrides(args: argparse.Namespace) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m charlm", description="A character-level recurrent language model.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a model on a text file")
    p.add_argument(
        "--corpus",
        default="anna-karenina",
        help="a UTF-8 text file, a folder `prepare` wrote (a corpus larger than memory), or a built-in corpus name "
        "(default: the chapter's novel, anna-karenina)",
    )
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS), help="starting settings (default quick)")
    p.add_argument("--out", required=True, type=Path, help="folder for checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument(
        "--force",
        action="store_true",
        help="train even when the memory estimate says the run will not fit in this machine (it may be killed)",
    )
    p.add_argument("--log-every", type=int, default=50, help="print the log line every N steps")
    _add_config_flags(p)

    p = sub.add_parser("sample", help="generate text from a checkpoint")
    p.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint file, or a folder (its latest)")
    p.add_argument("--prime", default=None, help="text to start from (default: a line break, which every model reads)")
    p.add_argument("--length", type=int, default=1000, help="characters to generate")
    p.add_argument("--top-n", type=int, default=4, help="sample from the N most likely characters (1: greedy)")
    p.add_argument("--temperature", type=float, default=1.0, help="below 1: safer text; above 1: wilder")
    p.add_argument("--seed", type=int, default=None, help="same seed, same text")
    p.add_argument("--skip-unknown", action="store_true", help="drop prime characters the model never saw")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="int8: weights in a quarter of the bytes, faster, the text a little different",
    )
    p.add_argument(
        "--best",
        action="store_true",
        help="with a run folder: its checkpoint at the lowest validation loss (default: its latest)",
    )

    p = sub.add_parser("evaluate", help="loss on the held-out part of a text")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--corpus", required=True, help="the text the model was trained on, or a built-in name")
    p.add_argument(
        "--best",
        action="store_true",
        help="with a run folder: its checkpoint at the lowest validation loss (default: its latest)",
    )
    p.add_argument("--val-fraction", type=float, default=None, help="held-out share (default: the checkpoint's)")
    p.add_argument(
        "--skip-unknown",
        action="store_true",
        help="leave out held-out characters the model never saw (the training part is never checked)",
    )
    p.add_argument(
        "--until",
        default="",
        metavar="TEXT",
        help="score the held-out part only up to the first TEXT in "
        "it, e.g. '*** END OF' before the licence a Project Gutenberg book ends with",
    )

    p = sub.add_parser("prepare", help="read a text of any size once and write its codes, for training from disk")
    p.add_argument("--corpus", required=True, type=Path, help="a UTF-8 text file")
    p.add_argument("--out", required=True, type=Path, help="folder to write codes.bin and corpus.json into")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out share, the end of the text (0.1)")

    p = sub.add_parser("export", help="write a weights-only copy of a checkpoint (for sharing or shipping)")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="folder to write into")
    p.add_argument("--name", required=True, help="file name without suffix")
    p = sub.add_parser("download", help="download a built-in corpus into CHARLM_DATA_DIR")
    p.add_argument("name", choices=sorted(REGISTRY))
    return parser


def _read_corpus(source: str, val_fraction: float) -> Corpus:
    """A prepared folder, memory-mapped (its checksum checked), or a file or built-in corpus read into memory."""
    if is_prepared(source):
        return load_prepared(source, val_fraction)
    text, name = _read_corpus_text(source)
    return Corpus.from_text(text, val_fraction=val_fraction, name=name)


def cmd_prepare(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    done = prepare(args.corpus, args.out, args.val_fraction)
    print(
        f"{done.name}: {done.chars:,} characters, {done.vocab_size} distinct, codes as {done.dtype}, "
        f"in {done.folder} ({time.perf_counter() - started:.1f} s). Train on it: --corpus {done.folder}"
    )
    return 0


def _read_corpus_text(source: str) -> tuple[str, str]:
    """Text and display name of a file or a built-in corpus."""
    if source in builtin_names():
        return corpus_text(source), source
    return load_text(resolve_corpus_path(source)), Path(source).name


def free_cores(cores: int, load: float) -> int:
    """torch threads for work started now: the cores the machine is not already busy with (``load``: how many
    are busy, ``busy_cores``), at least one. torch's own default, a thread per core, makes its threads spin
    waiting for cores that other processes hold, which costs several times the CPU time for the same steps."""
    return max(1, min(cores, round(cores - load)))


def busy_cores(window: float = 0.25) -> float:
    """How many cores the machine is busy with right now: its CPU time not idle over a short ``window``
    (``/proc/stat``), or, where that cannot be read, the one-minute load average (which lags: it still counts a
    run that has just ended)."""

    def ticks() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            values = [int(x) for x in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # all, and idle + waiting for I/O

    try:
        total0, idle0 = ticks()
        time.sleep(window)
        total1, idle1 = ticks()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    share = 1 - (idle1 - idle0) / max(1, total1 - total0)
    return share * (os.cpu_count() or 1)


def _set_threads(requested: int, ranks: Ranks = ALONE) -> int:
    """Set torch's thread count for this process (process-wide, so here in the main thread): ``requested``,
    or with 0 the free cores (with several processes on this machine, its cores shared among them: they
    would each count the others' start as busy); said on standard error, so a log shows what a run had."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if requested:
        threads, how = requested, "as asked"
    elif ranks.local_world > 1:
        threads = max(1, cores // ranks.local_world)
        how = f"{cores} cores shared by the {ranks.local_world} processes on this machine; --num-threads to choose"
    else:
        busy = busy_cores()
        threads, how = free_cores(cores, busy), f"the free cores: {cores}, {busy:.1f} busy; --num-threads to choose"
    torch.set_num_threads(threads)
    if ranks.writes:
        each = " per process" if not ranks.alone else ""
        print(f"{threads} torch thread{'s' if threads > 1 else ''}{each} ({how}).", file=sys.stderr)
    return threads


def cmd_train(args: argparse.Namespace) -> int:

    config, resume = _train_config(args)
    corpus = _read_corpus(args.corpus, config.val_fraction)
    # started by torchrun: this process joins the others, and trains its share of every batch's rows
    ranks = join(config.device)
    finished = False
    try:
        code = _train_in(ranks, args, config, resume, corpus)
        finished = True
        return code
    finally:
        leave(ranks, finished)


def _train_in(
    ranks: Ranks, args: argparse.Namespace, config: TrainConfig, resume: Checkpoint | None, corpus: Corpus
) -> int:
    """``train`` on this process, which is one of ``ranks`` (rank 0 alone shows and says what happens)."""
    from tqdm import tqdm

    _set_threads(config.num_threads, ranks)  # once the arguments are known good: a mistake stays one line
    if ranks.writes:
        processes = (
            f" on {ranks.world} processes, {config.batch_size // ranks.world} rows each" if not ranks.alone else ""
        )
        print(
            f"{corpus.name}: {len(corpus.data):,} characters, {len(corpus.vocab)} distinct; "
            f"training on {len(corpus.train_data):,}, validating on {len(corpus.val_data):,}{processes}.",
            file=sys.stderr,
        )
    bar = tqdm(
        total=None,
        unit="step",
        dynamic_ncols=True,
        initial=resume.progress.step if resume else 0,
        disable=not ranks.writes,
    )
    clipped: list[bool] = []  # per step: whether clipping fired, for the coach
    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        bar.write("Stopping after this step and saving a checkpoint (Ctrl-C again to abort).")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        on_event = _training_log(bar, corpus, config, args.log_every, clipped)
        result = train(
            corpus,
            config,
            args.out,
            on_event=on_event,
            stop=stop,
            resume=resume,
            check_memory=not args.force,
            ranks=ranks,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    if not ranks.writes:
        return 0
    _report_training(result, args.out)
    for finding in diagnose(
        RunFacts.of(corpus, config), result.progress.train_loss, result.progress.val_loss, clipped, finished=True
    ):
        print(f"Coach: {finding.english}", file=sys.stderr)
    return 0


def _train_config(args: argparse.Namespace) -> tuple[TrainConfig, Checkpoint | None]:
    """The run's settings: the preset with the flags given, or with ``--resume`` the latest checkpoint's
    settings with the flags given (and that checkpoint, to continue from)."""
    overrides = _config_overrides(args)
    if not args.resume:
        return preset(args.preset, **overrides), None
    latest = latest_checkpoint(args.out)
    if latest is None:
        raise CharLMError(f"--resume: no checkpoint in {args.out}.")
    resume = load_checkpoint(latest)
    print(f"Resuming from {latest} (step {resume.progress.step}).", file=sys.stderr)
    return resume.train_config.replace(**overrides), resume


def _training_log(bar, corpus: Corpus, config: TrainConfig, log_every: int, clipped: list[bool]):
    """What the command line shows of a training's events: a progress bar, a log line every ``log_every``
    steps, each validation, sample and checkpoint; whether clipping fired at each step goes to ``clipped``."""

    def on_event(event) -> None:
        if isinstance(event, StepEvent):
            clipped.append(clipping_fired(event.grad_norm, config.grad_clip))
            bar.total = event.total_steps
            bar.update(event.step - bar.n)
            bar.set_postfix(loss=f"{event.loss:.3f}", chars_s=f"{event.chars_per_sec:,.0f}", refresh=False)
            if log_every and event.step % log_every == 0:
                bar.write(event.log_line())
        elif isinstance(event, EvalEvent):
            covers = (
                f"every one of the {event.chars:,} held-out characters"
                if event.whole
                else f"{event.chars:,} of the {len(corpus.val_data) - 1:,} held-out characters"
            )
            bar.write(
                f"Step: {event.step}... {'held-out' if event.whole else 'validation'} loss: "
                f"{event.val_loss:.4f} ({event.val_loss / math.log(2):.3f} bits/char; {covers})"
            )
        elif isinstance(event, SampleEvent):
            bar.write(f"--- sample at step {event.step} ---\n{event.text}\n---")
        elif isinstance(event, CheckpointEvent):
            bar.write(f"Saved {event.path}")

    return on_event


def _report_training(result, out: str) -> None:
    """How the run ended, its held-out loss, its last checkpoint and, if another, its best."""
    held_out = result.progress.held_out
    val = (
        f"held-out loss {held_out[1]:.4f} over {held_out[2]:,} held-out characters" if held_out else "no held-out part"
    )
    print(
        f"Done ({result.reason}) at step {result.progress.step} after {result.progress.elapsed:.0f} s; "
        f"{val}; checkpoint {result.checkpoint}"
    )
    best = best_checkpoint(out)
    if best is not None and best != result.checkpoint:
        print(f"The best by validation loss is {best} (use it with --best).")


def _chosen_checkpoint(args: argparse.Namespace) -> Checkpoint:
    """``--checkpoint`` as given: a file, or a run folder's latest, or with ``--best`` its best."""
    if not args.best:
        return load_checkpoint(args.checkpoint)
    best = best_checkpoint(args.checkpoint) if args.checkpoint.is_dir() else None
    if best is None:
        raise CharLMError(f"--best: {args.checkpoint} is not a run folder with a validated checkpoint.")
    print(f"The best checkpoint: {best.name}", file=sys.stderr)
    return load_checkpoint(best)


def cmd_sample(args: argparse.Namespace) -> int:
    ckpt = _chosen_checkpoint(args)
    sampler = Sampler(ckpt.model, ckpt.vocab, args.precision)
    check_settings(ckpt.vocab, args.top_n, args.temperature, args.length)
    given = args.prime if args.prime is not None else default_prime(ckpt.vocab)
    prime = prepare_prime(ckpt.vocab, given, "skip" if args.skip_unknown else "error")
    chars = sampler.stream(prime, args.length, args.top_n, args.temperature, args.seed)
    first = next(chars, "")  # validates the settings before anything is printed
    out = sys.stdout
    out.write(prime)
    out.write(first)
    for i, ch in enumerate(chars):
        out.write(ch)
        if ch == "\n" or i % 32 == 0:
            out.flush()
    out.write("\n")
    out.flush()
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    ckpt = _chosen_checkpoint(args)
    val_fraction = args.val_fraction if args.val_fraction is not None else ckpt.train_config.val_fraction
    if not 0 < val_fraction < 1:
        raise CharLMError("The held-out share must be above 0 and below 1 (use --val-fraction).")
    codes, skipped = _held_out_codes(args, ckpt.vocab, val_fraction)
    config = ckpt.train_config
    _set_threads(0)
    # rows scored side by side: the run's N, or fewer where this machine has too little memory for them
    rows = scoring_rows_that_fit(config, len(ckpt.vocab), device_memory_bytes("cpu"))
    if rows < config.batch_size:
        print(f"(scored in {rows} rows instead of the run's {config.batch_size}: this machine's memory)")
    score = score_held_out(ckpt.model, codes, rows, config.num_steps)
    skipped = f"; {skipped:,} unknown characters left out" if skipped else ""
    part = f"the last {val_fraction:.0%} of the text" + (f" up to {args.until!r}" if args.until else "")
    print(
        f"held-out loss: {score.loss:.4f} nats/char, {score.bits:.4f} bits/char "
        f"(every one of its {score.chars:,} characters, {part}{skipped})"
    )
    return 0


def _held_out_codes(args: argparse.Namespace, vocab: Vocab, val_fraction: float) -> tuple[np.ndarray, int]:
    """The held-out part of ``--corpus`` as the model's codes, and how many unknown characters were left out
    (``--skip-unknown``). A prepared folder's part is translated code by code, never decoded (unless ``--until``
    asks for a place in its text)."""
    if is_prepared(args.corpus) and not args.until:
        prepared = load_prepared(args.corpus, val_fraction)
        part = prepared.val_data
        table = np.array([vocab.stoi.get(c, -1) for c in prepared.vocab.chars])  # its codes -> the model's
        codes = table[part]
        unknown = codes < 0
        if unknown.any() and not args.skip_unknown:
            chars = prepared.vocab.decode(np.unique(part[unknown]))
            raise CharLMError(
                f"The held-out part has characters the model never saw: {', '.join(map(repr, chars[:10]))}. "
                "Use --skip-unknown to leave them out."
            )
        return codes[~unknown], int(unknown.sum())
    if is_prepared(args.corpus):
        prepared = load_prepared(args.corpus, val_fraction)
        held_out = prepared.vocab.decode(prepared.val_data)
    else:
        text, _ = _read_corpus_text(args.corpus)
        held_out = text[len(text) - round(len(text) * val_fraction) :]  # the part training never saw (as Corpus)
    if args.until:
        if args.until not in held_out:
            raise CharLMError(f"--until: {args.until!r} is not in the held-out part.")
        held_out = held_out[: held_out.index(args.until)]
    unknown = vocab.unknown_chars(held_out)  # the training part is not scored: its characters do not matter
    if unknown and not args.skip_unknown:
        raise CharLMError(
            f"The held-out part has characters the model never saw: "
            f"{', '.join(map(repr, unknown[:10]))}. Use --skip-unknown to leave them out."
        )
    kept = "".join(c for c in held_out if c not in set(unknown)) if unknown else held_out
    return vocab.encode(kept), len(held_out) - len(kept)


def cmd_export(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.checkpoint)
    path = save_checkpoint(
        args.out, ckpt.model, ckpt.vocab, ckpt.train_config, ckpt.progress, corpus_name=ckpt.corpus_name, name=args.name
    )
    print(path)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    print(download(args.name))
    return 0


COMMANDS = {
    "download": cmd_download,
    "train": cmd_train,
    "sample": cmd_sample,
    "evaluate": cmd_evaluate,
    "prepare": cmd_prepare,
    "export": cmd_export,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CharLMError as err:
        print(f"charlm: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"charlm: error: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("charlm: interrupted", file=sys.stderr)
        return 130
