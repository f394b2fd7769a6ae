"""Helpers shared by the benchmark scripts: a peak-memory probe and corpus paths."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import httpx
import torch

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("CHARLM_DATA_DIR") or ROOT.parent / "shared" / "corpora")


def reset_peak_memory() -> None:
    """Linux: start a new peak-RSS measurement (writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_cgroup(limit_bytes: int, name: str) -> Path | None:
    """A new memory cgroup (v2, else v1) below this process's own, limited to ``limit_bytes``; None where
    this user may not create one. Remove it with ``folder.rmdir()`` once its processes have ended."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "" and "memory" in _read(Path("/sys/fs/cgroup") / path.lstrip("/") / "cgroup.controllers"):
            folder, limit_file = Path("/sys/fs/cgroup") / path.lstrip("/") / name, "memory.max"
        elif "memory" in controllers.split(","):
            folder, limit_file = Path("/sys/fs/cgroup/memory") / path.lstrip("/") / name, "memory.limit_in_bytes"
        else:
            continue
        try:
            folder.mkdir(exist_ok=True)
            (folder / limit_file).write_text(str(limit_bytes))
            return folder
        except OSError:
            continue
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads"
    )


def start_app(port: int, env: dict, cgroup: Path | None = None) -> tuple[subprocess.Popen, str]:
    """``app.py`` in a subprocess on a loopback port (inside ``cgroup``, a memory cgroup's folder, when
    given), once it answers: (the process, its URL)."""
    enter = (lambda: (cgroup / "cgroup.procs").write_text(str(os.getpid()))) if cgroup else None
    server = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=enter,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    return server, url
