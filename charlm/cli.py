"""Command line: ``python -m charlm train | sample | evaluate | export``.

Every ``TrainConfig`` field is a flag of ``train`` (``--hidden-size 128``, ``--cell gru``), so
the CLI and the web app share one set of settings and presets. Bad arguments or files print one
line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path

import torch

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .coach import RunFacts, clipping_fired, diagnose
from .config import PRESETS, TrainConfig, preset
from .corpora import REGISTRY, builtin_names, corpus_text, download, resolve_corpus_path
from .errors import CharLMError
from .sample import Sampler, check_settings, prepare_prime
from .train import CheckpointEvent, EvalEvent, SampleEvent, StepEvent, evaluate, train, validation_batches
from .vocab import Corpus, load_text


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
    p.add_argument("--corpus", default="anna-karenina",
                   help="a UTF-8 text file, or a built-in corpus name (default: the chapter's novel, anna-karenina)")
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS), help="starting settings (default quick)")
    p.add_argument("--out", required=True, type=Path, help="folder for checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--log-every", type=int, default=50, help="print the log line every N steps")
    _add_config_flags(p)

    p = sub.add_parser("sample", help="generate text from a checkpoint")
    p.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint file, or a folder (its latest)")
    p.add_argument("--prime", default="The ", help="text to start from (default 'The ')")
    p.add_argument("--length", type=int, default=1000, help="characters to generate")
    p.add_argument("--top-n", type=int, default=4, help="sample from the N most likely characters (1: greedy)")
    p.add_argument("--temperature", type=float, default=1.0, help="below 1: safer text; above 1: wilder")
    p.add_argument("--seed", type=int, default=None, help="same seed, same text")
    p.add_argument("--skip-unknown", action="store_true", help="drop prime characters the model never saw")

    p = sub.add_parser("evaluate", help="loss on the held-out part of a text")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--corpus", required=True, help="the text the model was trained on, or a built-in name")
    p.add_argument("--val-fraction", type=float, default=None, help="held-out share (default: the checkpoint's)")

    p = sub.add_parser("export", help="write a weights-only copy of a checkpoint (for sharing or shipping)")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="folder to write into")
    p.add_argument("--name", required=True, help="file name without suffix")
    p = sub.add_parser("download", help="download a built-in corpus into CHARLM_DATA_DIR")
    p.add_argument("name", choices=sorted(REGISTRY))
    return parser


def _read_corpus_text(source: str) -> tuple[str, str]:
    """Text and display name of a file or a built-in corpus."""
    if source in builtin_names():
        return corpus_text(source), source
    return load_text(resolve_corpus_path(source)), Path(source).name


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    overrides = _config_overrides(args)
    resume = None
    if args.resume:
        latest = latest_checkpoint(args.out)
        if latest is None:
            raise CharLMError(f"--resume: no checkpoint in {args.out}.")
        resume = load_checkpoint(latest)
        config = resume.train_config.replace(**overrides)
        print(f"Resuming from {latest} (step {resume.progress.step}).", file=sys.stderr)
    else:
        config = preset(args.preset, **overrides)
    if config.num_threads:  # process-wide, so set here in the main thread, not inside the training loop
        torch.set_num_threads(config.num_threads)
    text, name = _read_corpus_text(args.corpus)
    corpus = Corpus.from_text(text, val_fraction=config.val_fraction, name=name)
    print(f"{corpus.name}: {len(corpus.data):,} characters, {len(corpus.vocab)} distinct; "
          f"training on {len(corpus.train_data):,}, validating on {len(corpus.val_data):,}.", file=sys.stderr)

    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        bar.write("Stopping after this step and saving a checkpoint (Ctrl-C again to abort).")

    bar = tqdm(total=None, unit="step", dynamic_ncols=True, initial=resume.progress.step if resume else 0)

    clipped: list[bool] = []  # per step: whether clipping fired, for the coach

    def on_event(event) -> None:
        if isinstance(event, StepEvent):
            clipped.append(clipping_fired(event.grad_norm, config.grad_clip))
            bar.total = event.total_steps
            bar.update(event.step - bar.n)
            bar.set_postfix(loss=f"{event.loss:.3f}", chars_s=f"{event.chars_per_sec:,.0f}", refresh=False)
            if args.log_every and event.step % args.log_every == 0:
                bar.write(event.log_line())
        elif isinstance(event, EvalEvent):
            bar.write(f"Step: {event.step}... validation loss: {event.val_loss:.4f} "
                      f"({event.val_loss / math.log(2):.3f} bits/char)")
        elif isinstance(event, SampleEvent):
            bar.write(f"--- sample at step {event.step} ---\n{event.text}\n---")
        elif isinstance(event, CheckpointEvent):
            bar.write(f"Saved {event.path}")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = train(corpus, config, args.out, on_event=on_event, stop=stop, resume=resume)
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    val = result.progress.val_loss[-1][1] if result.progress.val_loss else float("nan")
    print(f"Done ({result.reason}) at step {result.progress.step} after {result.progress.elapsed:.0f} s; "
          f"validation loss {val:.4f}; checkpoint {result.checkpoint}")
    for finding in diagnose(RunFacts.of(corpus, config), result.progress.train_loss, result.progress.val_loss,
                            clipped, finished=True):
        print(f"Coach: {finding.english}", file=sys.stderr)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.checkpoint)
    sampler = Sampler(ckpt.model, ckpt.vocab)
    check_settings(ckpt.vocab, args.top_n, args.temperature, args.length)
    prime = prepare_prime(ckpt.vocab, args.prime, "skip" if args.skip_unknown else "error")
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
    ckpt = load_checkpoint(args.checkpoint)
    val_fraction = args.val_fraction if args.val_fraction is not None else ckpt.train_config.val_fraction
    if not 0 < val_fraction < 1:
        raise CharLMError("The held-out share must be above 0 and below 1 (use --val-fraction).")
    text, _ = _read_corpus_text(args.corpus)
    corpus = Corpus.from_text(text, val_fraction=val_fraction, vocab=ckpt.vocab)
    batches = validation_batches(corpus.val_data, ckpt.train_config)
    loss = evaluate(ckpt.model, batches)
    chars = len(batches) * batches.batch_size * batches.num_steps
    print(f"held-out loss: {loss:.4f} nats/char, {loss / math.log(2):.4f} bits/char "
          f"({chars:,} characters, the last {val_fraction:.0%} of the text)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.checkpoint)
    path = save_checkpoint(args.out, ckpt.model, ckpt.vocab, ckpt.train_config, ckpt.progress,
                           corpus_name=ckpt.corpus_name, name=args.name)
    print(path)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    print(download(args.name))
    return 0


COMMANDS = {"download": cmd_download, "train": cmd_train, "sample": cmd_sample, "evaluate": cmd_evaluate,
            "export": cmd_export}


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
