"""Training on several processes through torchrun: each trains its share of the rows, the gradients are
averaged by DistributedDataParallel, and the run is the one-process run (within float rounding; exactly
again when resumed on as many processes). The gloo backend runs on any CPU, so CI runs the real thing."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from charlm import CharLMError, Corpus, preset, train
from charlm.network.model import CharRNN, ModelConfig
from charlm.sampling.sampler import Sampler
from charlm.training.checkpoint import latest_checkpoint, load_checkpoint
from charlm.training.cold_start import clear_rows
from charlm.training.distributed import Ranks
from charlm.training.evaluate import score_held_out
from tests.helpers import ROOT

SMALL = dict(
    hidden_size=32, num_layers=2, batch_size=8, num_steps=16, eval_every=10, sample_every=0, save_every=10, seed=3
)
FLAGS = [
    "--preset=quick",
    "--hidden-size=32",
    "--num-layers=2",
    "--batch-size=8",
    "--num-steps=16",
    "--eval-every=10",
    "--sample-every=0",
    "--save-every=10",
    "--seed=3",
    "--num-threads=1",
]


def torchrun(processes: int, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=K -m charlm train …``, as the docs give it (one machine, a
    free port of its own)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    return subprocess.run(
        [*command, "-m", "charlm", "train", *FLAGS, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def losses(folder) -> list[tuple[int, float]]:
    """Every training loss the run's log holds, as written (a second writer would repeat steps)."""
    lines = (folder / "losses.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [(int(step), float(loss)) for step, kind, loss in (line.split(",") for line in lines) if kind == "train"]


@pytest.fixture(scope="module")
def text(anna_text, tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "anna-part.txt"
    path.write_text(anna_text[:120_000], encoding="utf-8")
    return path


# -- the parts, without processes ---------------------------------------------------------------------------


def test_every_process_takes_an_equal_share_of_the_rows_and_an_uneven_batch_is_refused():
    assert [Ranks(rank, 4).rows(8) for rank in range(4)] == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8)]
    with pytest.raises(CharLMError, match="multiple of 3") as refused:
        Ranks(0, 3).check_rows(8)
    assert refused.value.key == "ranks_rows" and "6 or 9" in str(refused.value)
    # held-out rows need not split evenly: contiguous, each row once, none when there are more processes
    shares = [Ranks(rank, 4).share_of(10) for rank in range(4)]
    assert [list(s) for s in shares] == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert [len(Ranks(rank, 5).share_of(3)) for rank in range(5)] == [1, 1, 1, 0, 0]


def test_each_process_draws_its_own_masks_from_the_seed_and_its_rank():
    seeds = {Ranks(rank, 4).dropout_seed(7) for rank in range(4)}
    assert len(seeds) == 4 and Ranks(1, 4).dropout_seed(7) == Ranks(1, 4).dropout_seed(7)
    assert Ranks(1, 4).dropout_seed(8) not in seeds


def test_the_rows_cleared_for_a_cold_start_are_the_same_whoever_holds_them():
    state = torch.ones(2, 8, 5)
    whole = clear_rows(state, 0.4, seed=1, step=6)
    parts = [clear_rows(state[:, r.rows(8)], 0.4, 1, 6, r.rows(8).start, 8) for r in (Ranks(0, 2), Ranks(1, 2))]
    assert torch.equal(torch.cat(parts, dim=1), whole) and 0 < whole[0, :, 0].sum() < 8


class Unsummed(Ranks):
    """A process's own share of the held-out sum, as it is before the processes add theirs up."""

    def total(self, value):
        return value


@pytest.mark.parametrize("windows", [0, 2])
@pytest.mark.parametrize("world", [2, 3, 7])
def test_the_held_out_part_split_across_processes_adds_up_to_the_whole(windows, world):
    """Every held-out character is scored once by one of the processes (the last row's tail by the one that
    holds it; none by processes without a row): their shares add up to the one-process figure."""
    model = CharRNN(ModelConfig(vocab_size=20, hidden_size=16, num_layers=2, dropout=0.0))
    data = np.random.default_rng(0).integers(0, 20, size=1_003).astype(np.uint8)  # 5 rows of 200, and a tail
    whole = score_held_out(model, data, rows=5, num_steps=20, windows=windows)
    shares = [score_held_out(model, data, 5, 20, windows=windows, ranks=Unsummed(r, world)) for r in range(world)]
    assert {s.chars for s in shares} == {whole.chars}
    assert sum(s.loss for s in shares) == pytest.approx(whole.loss, rel=1e-6)


# -- torchrun, two processes, gloo --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_process(text, tmp_path_factory):
    """The reference: one process, in this one, 40 steps without dropout."""
    out = tmp_path_factory.mktemp("one")
    config = preset("quick", **SMALL, max_steps=40, dropout=0.0)
    result = train(Corpus.from_source(text, config.val_fraction), config, out)
    return out, result


@pytest.mark.slow
def test_two_processes_train_the_one_process_run_and_only_the_first_writes(text, one_process, tmp_path):
    out, one = one_process
    done = torchrun(2, f"--corpus={text}", f"--out={tmp_path}", "--max-steps=40", "--dropout=0")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "on 2 processes, 4 rows each" in done.stderr
    assert done.stdout.count("Done (max_steps) at step 40") == 1  # rank 0 alone reports
    # the same losses at every step, and the same curve, within float rounding
    two, ref = losses(tmp_path), losses(out)
    assert [s for s, _ in two] == [s for s, _ in ref] == list(range(1, 41))  # one line per step: one writer
    np.testing.assert_allclose([v for _, v in two], [v for _, v in ref], rtol=1e-5)
    # the same weights and the same final figure, over the same held-out characters
    mine = load_checkpoint(latest_checkpoint(tmp_path))
    for name, value in one.model.state_dict().items():
        torch.testing.assert_close(mine.model.state_dict()[name], value, rtol=1e-4, atol=1e-5)
    assert mine.progress.held_out[2] == one.progress.held_out[2]
    assert mine.progress.held_out[1] == pytest.approx(one.progress.held_out[1], rel=1e-5)
    # the checkpoint carries every row's memory, as one process's does, and loads to write text on the CPU
    assert mine.carry_state[0].shape == (2, 8, 32) and mine.progress.ranks == 2
    torch.testing.assert_close(
        mine.carry_state[0], load_checkpoint(one.checkpoint).carry_state[0], rtol=1e-4, atol=1e-5
    )
    assert len(Sampler(mine.model, mine.vocab).generate("The ", 50, seed=1)) == 54
    # resumed on one process, it goes on as the run would (nothing drawn at random: dropout is 0)
    resumed = train(
        Corpus.from_source(text, mine.train_config.val_fraction),
        mine.train_config.replace(max_steps=50),
        tmp_path,
        resume=load_checkpoint(tmp_path / "i30_l32.safetensors"),
    )
    assert resumed.progress.step == 50


@pytest.mark.slow
def test_with_dropout_a_run_resumed_on_as_many_processes_goes_on_exactly_and_on_fewer_is_refused(text, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    for out, steps in ((whole, 40), (cut, 20)):  # a constant rate: a run cut at 20 steps is the first half of 40
        done = torchrun(
            2, f"--corpus={text}", f"--out={out}", f"--max-steps={steps}", "--dropout=0.3", "--lr-schedule=constant"
        )
        assert done.returncode == 0, done.stderr[-3000:]
    again = torchrun(2, f"--corpus={text}", f"--out={cut}", "--max-steps=40", "--resume")
    assert again.returncode == 0, again.stderr[-3000:]
    assert losses(cut) == losses(whole)  # bit for bit: each process's masks go on from its saved generator
    a, b = load_checkpoint(latest_checkpoint(whole)), load_checkpoint(latest_checkpoint(cut))
    assert all(torch.equal(b.model.state_dict()[k], v) for k, v in a.model.state_dict().items())
    # one process cannot draw the masks of two: refused, with why and what to do
    with pytest.raises(CharLMError, match="trained by 2 processes") as refused:
        train(Corpus.from_source(text, b.train_config.val_fraction), b.train_config.replace(max_steps=60), resume=b)
    assert refused.value.key == "resume_ranks" and "--nproc_per_node=2" in str(refused.value)


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "zombie" not in status.read().lower()
    except FileNotFoundError:
        return False


def children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    return [int(p) for p in open(path).read().split()] if os.path.exists(path) else []


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads the process tree from /proc (Linux)")
def test_a_process_that_dies_ends_the_run_and_leaves_a_whole_checkpoint(text, tmp_path):
    """torchrun's own failure handling: one process killed, the other is stopped and torchrun fails; the last
    checkpoint (written whole by rank 0, atomically) loads and resumes."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run = subprocess.Popen(
        [
            *command,
            "-m",
            "charlm",
            "train",
            *FLAGS,
            f"--corpus={text}",
            f"--out={tmp_path}",
            "--max-steps=100000",
            "--dropout=0",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while latest_checkpoint(tmp_path) is None or len(children(run.pid)) < 2:
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.2)
        workers = children(run.pid)
        os.kill(workers[-1], signal.SIGKILL)
        assert run.wait(timeout=90) != 0
        assert not [pid for pid in workers if running(pid)]  # the other process was stopped too
    finally:
        if run.poll() is None:
            run.kill()
    last = load_checkpoint(latest_checkpoint(tmp_path))
    assert last.progress.step % 10 == 0 and last.can_resume and last.progress.ranks == 2
    config = last.train_config.replace(max_steps=last.progress.step + 5)
    assert train(Corpus.from_source(text, config.val_fraction), config, resume=last).progress.step == config.max_steps


@pytest.mark.slow
def test_a_batch_that_does_not_split_across_the_processes_is_refused_before_training(text, tmp_path):
    done = torchrun(2, f"--corpus={text}", f"--out={tmp_path}", "--max-steps=5", "--batch-size=9")
    assert done.returncode != 0
    assert done.stderr.count("charlm: error: batch_size=9 rows do not split evenly across 2 processes") == 2
    assert "Traceback" not in done.stderr.split("charlm: error")[0] and not list(tmp_path.iterdir())
