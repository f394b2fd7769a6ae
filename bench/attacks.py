"""Issue 31's memory attacks, replayed on a server in a memory cgroup: does every request get an answer (a
result or a message) and the server live?

    python bench/attacks.py [--memory-limit-gb 8] [--corpus-calls 60] [--guess-calls 40] [--pressers 4]

Starts ``app.py`` in a subprocess on a loopback port, in a memory cgroup of ``--memory-limit-gb`` where this
user may create one (else unlimited, said in the output), and sends, one attack after another:

1. one 20 MB text uploaded once, then ``--corpus-calls`` calls of ``/gradio_api/run/load_corpus`` without a
   session (each a new visitor that keeps the text), eight at a time;
2. ``--guess-calls`` next-character guesses over a 5,000-character passage at once, each from its own session;
3. two trainings of the chapter's model (2×512, N = M = 100) and ``--pressers`` visitors pressing One batch at
   that size three times each.

For each: the answers (results, the app's messages by their first words, HTTP failures), the server's peak
RSS while it ran, and whether it is still alive. Goal (issue 31): every call answered, the server alive.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CORPORA, memory_cgroup, start_app  # noqa: E402
from bench.queue_client import call, endpoints, new_session  # noqa: E402

TEXTBOOK = ["textbook", "lstm", 2, 512, 0.5, 100, 100, 0.001, 5.0, 20, 100_000]  # the Train form, in order


class Peak:
    """The server's peak RSS over a stretch of time, sampled every 0.2 s in a thread."""

    def __init__(self, pid: int):
        self.pid, self.mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            self.mb = max(self.mb, rss / 1024)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def said(output: object) -> str:
    """An answer by its kind: a result, or the app's message by its first words."""
    text = str(output)
    for sign in ("⚠", "⏳"):
        if sign in text:
            return text[text.index(sign) : text.index(sign) + 60].split("\n")[0]
    return "result"


def load_corpora(url: str, calls: int) -> collections.Counter:
    anna = (CORPORA / "anna.txt").read_text(encoding="utf-8")
    text = (anna * (20_000_000 // len(anna) + 1))[:19_900_000]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.txt"
        path.write_text(text, encoding="utf-8")
        with path.open("rb") as f:
            uploaded = httpx.post(url + "gradio_api/upload", files={"files": ("big.txt", f)}, timeout=120).json()[0]
    file_data = {"path": uploaded, "orig_name": "big.txt", "meta": {"_type": "gradio.FileData"}}

    def one(_: int) -> str:
        try:
            answer = httpx.post(url + "gradio_api/run/load_corpus", json={"data": [None, file_data, 0.1]}, timeout=300)
        except httpx.HTTPError as err:
            return f"HTTP failure: {type(err).__name__}"
        if answer.status_code != 200:
            return f"HTTP {answer.status_code}"
        return said(answer.json().get("data"))

    with ThreadPoolExecutor(8) as pool:
        return collections.Counter(pool.map(one, range(calls)))


async def guesses(url: str, calls: int) -> collections.Counter:
    passage = (CORPORA / "anna.txt").read_text(encoding="utf-8")[200_000:205_000]
    async with httpx.AsyncClient(timeout=600) as http:
        prefix, fns = await endpoints(http, url)

        async def one() -> str:
            try:
                out = await call(http, url, prefix, fns["next_char_guesses"], [None, passage], new_session())
            except (RuntimeError, httpx.HTTPError) as err:
                return f"failure: {err}"[:60]
            return said(out)

        return collections.Counter(await asyncio.gather(*(one() for _ in range(calls))))


async def trainings_and_one_batch(url: str, pressers: int) -> collections.Counter:
    async with httpx.AsyncClient(timeout=600) as http:
        prefix, fns = await endpoints(http, url)
        trainers = [new_session() for _ in range(2)]
        answers: collections.Counter = collections.Counter()
        for session in trainers:
            out = await call(http, url, prefix, fns["start_training"], list(TEXTBOOK), session)
            answers["Start: " + said(out)] += 1

        async def presser() -> None:
            session = new_session()
            for _ in range(3):
                try:
                    out = await call(http, url, prefix, fns["one_batch"], list(TEXTBOOK), session)
                except (RuntimeError, httpx.HTTPError) as err:
                    answers[f"One batch failure: {err}"[:60]] += 1
                    continue
                answers["One batch: " + said(out)] += 1

        await asyncio.gather(*(presser() for _ in range(pressers)))
        for session in trainers:
            await call(http, url, prefix, fns["stop_training"], [], session)
        return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-limit-gb", type=float, default=8.0)
    parser.add_argument("--corpus-calls", type=int, default=60)
    parser.add_argument("--guess-calls", type=int, default=40)
    parser.add_argument("--pressers", type=int, default=4)
    parser.add_argument("--port", type=int, default=7872)
    args = parser.parse_args()
    cgroup = memory_cgroup(int(args.memory_limit_gb * 2**30), f"charlm-attacks-{os.getpid()}")
    where = f"a {args.memory_limit_gb:g} GB memory cgroup" if cgroup else "no memory cgroup (not allowed here)"
    print(f"# server in {where}")
    env = {**os.environ, "CHARLM_MAX_JOBS": "2", "CHARLM_RUNNER": "thread"}
    server, url = start_app(args.port, env, cgroup)
    attacks = [
        (
            f"{args.corpus_calls} session-less load_corpus calls of a 20 MB upload",
            lambda: load_corpora(url, args.corpus_calls),
        ),
        (
            f"{args.guess_calls} guesses over 5,000 characters at once",
            lambda: asyncio.run(guesses(url, args.guess_calls)),
        ),
        (
            f"2 trainings of 2x512 N=M=100 and {args.pressers} One batch pressers at that size",
            lambda: asyncio.run(trainings_and_one_batch(url, args.pressers)),
        ),
    ]
    try:
        for name, attack in attacks:
            began = time.monotonic()
            with Peak(server.pid) as peak:
                answers = attack()
            alive = server.poll() is None
            print(f"\n{name}: {time.monotonic() - began:.0f} s, server peak RSS {peak.mb:.0f} MB, alive: {alive}")
            for answer, n in answers.most_common():
                print(f"  {n:3d} × {answer}")
            if not alive:
                print(f"  the server ended with {server.returncode}")
                break
    finally:
        server.terminate()
        server.wait(30)
        if cgroup is not None:
            time.sleep(1)
            cgroup.rmdir()


if __name__ == "__main__":
    main()
