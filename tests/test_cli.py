import subprocess
import sys

import pytest
from helpers import ROOT

from charlm.cli import main


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "story.txt"
    path.write_text("Once upon a time there was a little model that learned to write. " * 120, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained_dir(corpus_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    rc = main(
        [
            "train",
            "--corpus",
            str(corpus_file),
            "--preset",
            "tiny",
            "--out",
            str(out),
            "--max-steps",
            "60",
            "--hidden-size",
            "48",
            "--cell",
            "gru",
            "--epochs",
            "20",
            "--save-every",
            "30",
        ]
    )
    assert rc == 0
    return out


def test_train_writes_checkpoints_with_the_flags_applied(trained_dir, capsys):
    names = sorted(p.name for p in trained_dir.glob("*.safetensors"))
    assert names == ["i30_l48.safetensors", "i50_l48.safetensors", "i60_l48.safetensors"]  # i50: the best so far
    from charlm import load_checkpoint

    ckpt = load_checkpoint(trained_dir)
    assert ckpt.model_config.cell == "gru" and ckpt.model_config.hidden_size == 48


def test_resume_continues_from_the_latest(trained_dir, corpus_file, capsys):
    rc = main(["train", "--corpus", str(corpus_file), "--out", str(trained_dir), "--resume", "--max-steps", "70"])
    assert rc == 0
    assert (trained_dir / "i70_l48.safetensors").is_file()
    assert "Resuming from" in capsys.readouterr().err


def test_sample_prints_prime_and_length_and_is_reproducible(trained_dir, capsys):
    args = ["sample", "--checkpoint", str(trained_dir), "--prime", "Once", "--length", "120", "--seed", "5"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    second = capsys.readouterr().out
    assert first == second and first.startswith("Once") and len(first) == 4 + 120 + 1
    assert main([*args, "--precision", "int8"]) == 0  # int8 weights: a text of its own, as long
    assert len(capsys.readouterr().out) == len(first)


def test_sample_needs_no_prime_whatever_the_text(trained_dir, capsys):
    """The story has no capital T and no line break: the default prime is a character the model knows."""
    assert main(["sample", "--checkpoint", str(trained_dir), "--length", "50", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(" ") and len(out) == 1 + 50 + 1


def test_evaluate_scores_every_held_out_character(trained_dir, corpus_file, capsys):
    assert main(["evaluate", "--checkpoint", str(trained_dir), "--corpus", str(corpus_file)]) == 0
    out = capsys.readouterr().out
    held_out = round(len(corpus_file.read_text(encoding="utf-8")) * 0.1)
    assert "nats/char" in out and "bits/char" in out and f"every one of its {held_out - 1:,} characters" in out


def test_evaluate_scores_in_fewer_rows_where_memory_is_short_and_refuses_what_cannot_fit(
    trained_dir, corpus_file, capsys, monkeypatch
):
    """Scoring reads N rows side by side: on a machine with too little memory for them it uses fewer rows
    (saying so), with the same figure to float precision; with too little for one row, exit 2 and both sizes."""
    from charlm import load_checkpoint
    from charlm.training.memory import estimate_scoring_bytes

    assert main(["evaluate", "--checkpoint", str(trained_dir), "--corpus", str(corpus_file)]) == 0
    whole = capsys.readouterr().out
    ckpt = load_checkpoint(trained_dir)
    config = ckpt.train_config
    one_row = estimate_scoring_bytes(config, len(ckpt.vocab), 1)
    monkeypatch.setattr("charlm.cli.device_memory_bytes", lambda device: one_row + 1)
    assert main(["evaluate", "--checkpoint", str(trained_dir), "--corpus", str(corpus_file)]) == 0
    fewer = capsys.readouterr().out
    assert f"scored in 1 rows instead of the run's {config.batch_size}" in fewer
    loss = lambda out: float(out.split("held-out loss: ")[1].split()[0])  # noqa: E731
    assert abs(loss(fewer) - loss(whole)) < 0.02, (whole, fewer)
    monkeypatch.setattr("charlm.cli.device_memory_bytes", lambda device: 1 << 20)
    assert main(["evaluate", "--checkpoint", str(trained_dir), "--corpus", str(corpus_file)]) == 2
    err = capsys.readouterr().err
    assert "even in one row" in err and "Traceback" not in err


def test_evaluate_checks_only_the_part_it_scores(trained_dir, corpus_file, tmp_path, capsys):
    """Characters the model never saw in the training part do not matter; in the held-out part they are refused,
    or left out with --skip-unknown (and counted)."""
    text = corpus_file.read_text(encoding="utf-8")
    early = tmp_path / "early.txt"
    early.write_text("Zoë & Łukasz " + text[13:], encoding="utf-8")
    assert main(["evaluate", "--checkpoint", str(trained_dir), "--corpus", str(early)]) == 0
    assert "held-out loss" in capsys.readouterr().out
    late = tmp_path / "late.txt"
    late.write_text(text[:-40] + "Zoë & Łukasz" + text[-28:], encoding="utf-8")
    assert main(["evaluate", "--checkpoint", str(trained_dir), "--corpus", str(late)]) == 2
    assert "--skip-unknown" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(trained_dir), "--corpus", str(late), "--skip-unknown"]) == 0
    assert "6 unknown characters left out" in capsys.readouterr().out  # Z ë & Ł k z


def test_export_writes_weights_only(trained_dir, tmp_path, capsys):
    assert main(["export", "--checkpoint", str(trained_dir), "--out", str(tmp_path), "--name", "small"]) == 0
    from charlm import load_checkpoint

    ckpt = load_checkpoint(tmp_path / "small.safetensors")
    assert not ckpt.can_resume
    assert (tmp_path / "small.safetensors").stat().st_size < (trained_dir / "i70_l48.safetensors").stat().st_size


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["sample", "--checkpoint", "/nonexistent/x.safetensors"], "No such checkpoint"),
        (["train", "--corpus", "/nonexistent.txt", "--out", "/tmp/x"], "No such file"),
        (["train", "--corpus", "anna-karenina", "--out", "/tmp/x", "--hidden-size", "-3"], "hidden_size"),
        (["sample", "--checkpoint", "CKPT", "--top-n", "0"], "top_n"),
        (["sample", "--checkpoint", "CKPT", "--prime", "\u00e9\u00e9"], "never saw"),
        (["train", "--corpus", "x", "--out", "y", "--cell", "transformer"], "cell"),
        (["train", "--corpus", "x", "--out", "y", "--max-steps", "many"], "invalid int"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message, trained_dir):
    args = [str(trained_dir) if a == "CKPT" else a for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "charlm", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("cores", "load", "threads"), [(2, 0.1, 2), (2, 1.2, 1), (2, 3.5, 1), (16, 4.2, 12), (4, 0.0, 4)]
)
def test_the_default_thread_count_is_the_free_cores(cores, load, threads):
    from charlm.cli import free_cores

    assert free_cores(cores, load) == threads


def test_train_says_how_many_threads_it_took(corpus_file, tmp_path, capsys):
    args = ["train", "--corpus", str(corpus_file), "--preset", "tiny", "--out", str(tmp_path), "--max-steps", "3"]
    assert main([*args, "--num-threads", "1"]) == 0
    assert "1 torch thread (as asked)" in capsys.readouterr().err


def test_busy_cores_reads_what_the_machine_is_doing_now():
    import threading
    import time

    from charlm.cli import busy_cores

    stop = threading.Event()

    def spin():
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.05)
        loaded = busy_cores(0.3)
    finally:
        stop.set()
        spinner.join()
    assert loaded >= 0.6  # a spinning thread is about a core, whatever else the machine does meanwhile


def test_a_training_that_cannot_fit_is_refused_before_it_allocates(corpus_file, tmp_path, capsys, monkeypatch):
    """4×1024, N=512, M=512 needs tens of GB: refused up front with the estimate, the limit and the batch that
    fits (exit 2, one message, nothing allocated: the process stays small), in Python as on the command line."""
    import resource

    from charlm import CharLMError, Corpus, preset, train

    args = ["train", "--corpus", "anna-karenina", "--out", str(tmp_path), "--num-layers", "4"]
    args += ["--hidden-size", "1024", "--batch-size", "512", "--num-steps", "512", "--max-steps", "1"]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "would need about" in err and "With N=" in err and "--force" in err and "Traceback" not in err
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 1 << 20  # KB: under 1 GB more
    assert not list(tmp_path.glob("*.safetensors"))
    monkeypatch.setattr("charlm.training.loop.device_memory_bytes", lambda device: 16 << 20)
    with pytest.raises(CharLMError, match="would need about"):
        train(Corpus.from_text(corpus_file.read_text()), preset("quick", max_steps=1))
    assert train(Corpus.from_text(corpus_file.read_text()), preset("tiny", max_steps=2), check_memory=False)


def test_a_checkpoint_too_big_for_this_process_is_refused_before_it_is_read(
    trained_dir, corpus_file, capsys, monkeypatch
):
    """Loading holds a file about three times over (its bytes, their tensors, the model): a checkpoint that would
    not fit in the memory this process may use is refused with both figures (exit 2), in both commands."""
    monkeypatch.setattr("charlm.training.checkpoint.host_memory_bytes", lambda: 64 << 10)
    for command in (
        ["sample", "--checkpoint", str(trained_dir), "--length", "5"],
        ["evaluate", "--checkpoint", str(trained_dir), "--corpus", str(corpus_file)],
    ):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "would need about" in err and "may use 0.0 GB" in err and "Traceback" not in err, err
    monkeypatch.undo()
    assert main(["sample", "--checkpoint", str(trained_dir), "--length", "5"]) == 0
