"""The server's settings: one table (``AppConfig``'s fields), each with its default, its environment
variable where a host may set it (on a Space: Settings → Variables), and what it means. ``ENVIRONMENT`` and
``from_env`` are generated from that table, so a new setting is one field.

The defaults suit the host the app finds itself on (``host_defaults``): a laptop, a CPU Space, ZeroGPU.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from charlm.sampling.sampler import PRECISIONS
from charlm.serving import generations
from charlm.training.memory import host_memory_bytes

from .runners import on_zerogpu

ROOT = Path(__file__).resolve().parents[1]


def setting(default, env: str = "", doc: str = ""):
    """A field of ``AppConfig``: its default, the ``CHARLM_*`` variable that sets it (if any) and its meaning."""
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass
class AppConfig:
    max_jobs: int = setting(2, "CHARLM_MAX_JOBS", "trainings running at once, for everyone together")
    torch_threads: int = setting(0, "CHARLM_TORCH_THREADS", "torch's threads; 0: the CPU count shared by the slots")
    max_upload_mb: int = setting(20, "CHARLM_MAX_UPLOAD_MB", "the largest upload")
    session_ttl_hours: float = setting(6.0, doc="a browser tab's files are removed this long after its last visit")
    anonymous_ttl_minutes: float = setting(
        10.0, "CHARLM_API_IDLE_MINUTES", "API clients (no browser) are forgotten after this idle time"
    )
    max_job_minutes: float = setting(
        30.0, "CHARLM_MAX_JOB_MINUTES", "a training on the page stops after this long (a class setting; 0: no limit)"
    )
    heavy_concurrency: int = setting(4, doc="uploads, training starts, single-character steps handled at once")
    generation_streams: int = setting(
        generations.MAX_STREAMS,
        "CHARLM_GENERATION_STREAMS",
        "generations per model stepped together; 0: each alone, in the heavy pool",
    )
    sampler_precision: str = setting(
        "fp32", "CHARLM_SAMPLER_PRECISION", "int8: generate from int8 weights (faster; texts differ a little)"
    )
    queue_size: int = setting(
        256, "CHARLM_QUEUE_SIZE", "requests waiting at once, for everyone (Gradio on ZeroGPU would default to 1)"
    )
    page_states: int = setting(
        1000, doc="pages whose state Gradio keeps at most (about 12 KB each, `demo/page_states.py`)"
    )
    sampler_cache_mb: int = setting(1024, doc="loaded models kept for everyone, least recently used out first")
    job_memory_mb: int = setting(
        0, "CHARLM_JOB_MEMORY_MB", "memory one training may use (0: the host's or container's, shared by max_jobs)"
    )
    heavy_memory_mb: int = setting(
        0,
        "CHARLM_HEAVY_MEMORY_MB",
        "memory everyone's big requests (texts read, passages traced, One batch) take at once; 0: a fifth of "
        "the host's",
    )
    disk_mb: int = setting(
        0,
        "CHARLM_DISK_MB",
        "disk all the app's files take (visitors' folders and Gradio's copies); 0: half the disk's free space, "
        "at most 20 GB",
    )
    session_disk_mb: int = setting(1024, "CHARLM_SESSION_DISK_MB", "disk one visitor's checkpoints and uploads take")
    runner: str = setting(
        "auto", "CHARLM_RUNNER", 'how trainings run: "thread", "process", "chunks"; "auto": chunks on ZeroGPU'
    )
    chunk_seconds: float = setting(
        45.0, "CHARLM_CHUNK_SECONDS", "one chunk's training time (ZeroGPU asks more for start-up and saving)"
    )
    places_per_address: int = setting(
        40,
        "CHARLM_PLACES_PER_ADDRESS",
        "trainings running or waiting at once from one network address (a class behind one router shares one)",
    )
    teacher_key: str = setting(
        "",
        "CHARLM_TEACHER_KEY",
        'a link with ?teacher=<this> is the teacher\'s: one training place kept for it ("": no place kept)',
    )
    assets_dir: Path = setting(ROOT / "assets", doc="the shipped models")
    sessions_root: Path | None = setting(None, doc="the visitors' folders (None: one per process in the temp dir)")
    space_id: str = setting("", doc='the Hugging Face Space this runs as ("": not on a Space), from SPACE_ID')

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AppConfig:
        """Defaults chosen for the host (``host_defaults``), then whatever ``CHARLM_*`` variables say."""
        values: dict[str, object] = {**host_defaults(env), "space_id": env.get("SPACE_ID", "")}
        for variable, name in ENVIRONMENT.items():
            if env.get(variable):
                values[name] = _parsed(variable, env[variable], type(getattr(cls(), name)))
        if values.get("sampler_precision", "fp32") not in PRECISIONS:
            variable = "CHARLM_SAMPLER_PRECISION"
            raise ValueError(f"{variable} must be one of {', '.join(PRECISIONS)}; it is {env[variable]!r}.")
        return cls(**values)

    @property
    def job_memory_bytes(self) -> int:
        """A training's share: 80 % of the host's memory less 1 GB for the server and its models, per slot."""
        if self.job_memory_mb:
            return self.job_memory_mb << 20
        return max(256 << 20, int(host_memory_bytes() * 0.8 - (1 << 30)) // max(1, self.max_jobs))

    @property
    def heavy_memory_bytes(self) -> int:
        """The shared budget of big requests (``charlm/serving/memory_budget.py``): a fifth of the host's memory,
        at least 512 MB, so that one step of One batch with the chapter's model (about 810 MB estimated) fits a
        4 GB container. With the trainings' 80 % less 1 GB, the server and its models are left 1 GB in the worst
        case, which needs every training at its estimate's peak (estimates carry a 30 % margin) at once."""
        if self.heavy_memory_mb:
            return self.heavy_memory_mb << 20
        return max(512 << 20, host_memory_bytes() // 5)

    def disk_cap_bytes(self, folder: Path) -> int:
        """The cap over all the app's files (``demo/disk.py``, ``DiskCap``), on the disk ``folder`` is on."""
        if self.disk_mb:
            return self.disk_mb << 20
        return min(20 << 30, shutil.disk_usage(folder).free // 2)


# The settings a host may set by environment variable, each once: read off the table above.
ENVIRONMENT = {f.metadata["env"]: f.name for f in fields(AppConfig) if f.metadata.get("env")}


def _parsed(variable: str, text: str, kind: type) -> object:
    """A variable's text as its setting's type: sizes, counts and times are numbers of 0 or more."""
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{variable} must be a {'whole ' if kind is int else ''}number; it is {text!r}.") from None
    if kind in (int, float) and not value >= 0:  # (NaN fails this too)
        raise ValueError(f"{variable} must be 0 or more; it is {text!r}.")
    return value


def host_defaults(env: Mapping[str, str]) -> dict[str, object]:
    """Trainings at once and each one's time limit, for the host the app finds itself on.

    * ZeroGPU (``SPACES_ZERO_GPU``): trainings run on the shared GPU in chunks, each visitor's own daily quota
      bounds them, and the server only relays progress: eight at once, ten minutes each.
    * Another Space (``SPACE_ID``; ``CPU_CORES`` says how many cores it has): half the cores, at least two
      trainings, fifteen minutes each, so that a class takes turns.
    * A laptop or a teacher's machine: half the cores, at least two, thirty minutes.
    """
    if on_zerogpu(env):
        return {"max_jobs": 8, "max_job_minutes": 10.0}
    cores = int(env.get("CPU_CORES") or os.cpu_count() or 2)
    return {"max_jobs": max(2, cores // 2), "max_job_minutes": 15.0 if env.get("SPACE_ID") else 30.0}
