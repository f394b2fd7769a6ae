"""One cap over every file the app writes: Gradio's old copies go first when it is reached, what would write
more is refused in the visitor's words, and folders no visitor owns (a training that outlived its visitor
wrote its last checkpoint after the folder was removed) are swept."""

import os
import time
import types

import pytest

from demo.context import Context
from demo.disk import DiskCap
from demo.i18n import AppError
from demo.sessions import SessionStore
from demo.settings import AppConfig
from demo.tabs import train as train_tab


def write(path, size: int, age: float = 0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def test_past_the_cap_gradios_old_copies_go_oldest_first_and_recent_ones_and_visitors_files_stay(tmp_path):
    visitors, gradio = tmp_path / "sessions", tmp_path / "gradio"
    checkpoint = write(visitors / "abc" / "run1" / "step-10.safetensors", 4000)
    oldest = write(gradio / "h1" / "anna.txt", 3000, age=3600)
    older = write(gradio / "h2" / "model.safetensors", 3000, age=1800)
    recent = write(gradio / "h3" / "upload.txt", 3000, age=30)  # may be being served or read now
    cap = DiskCap([visitors, gradio], cap_bytes=14_000)
    assert cap.used() == 13_000 and cap.tidy(gradio) == 0 and oldest.exists()  # under the cap: nothing to do
    write(gradio / "h4" / "copy.bin", 2000, age=1200)
    assert cap.tidy(gradio) == 1  # 15,000 down to 9/10 of the cap (12,600): the oldest copy is enough
    assert not oldest.exists() and older.exists() and recent.exists() and checkpoint.exists()
    write(gradio / "h5" / "big.bin", 9000, age=900)
    assert cap.tidy(gradio) == 3  # the old copies, oldest first; the recent one and the visitor's stay
    assert recent.exists() and checkpoint.exists() and cap.used() == 7000
    with pytest.raises(AppError) as err:
        cap.check(20_000)
    assert err.value.key == "err.server_disk_full"


def test_a_training_that_would_take_the_apps_files_past_their_cap_is_refused_before_it_starts(tmp_path):
    ctx = Context.create(AppConfig(sessions_root=tmp_path / "sessions", max_jobs=1, disk_mb=1))
    asks = types.SimpleNamespace(session_hash="full", headers={"accept-language": "zh-CN"})
    values = ["lstm", 1, 256, 0.0, 8, 16, 0.01, 5.0, 50, 30]  # its checkpoints: several MB
    with pytest.raises(AppError) as err:
        list(train_tab.start_training(ctx, asks, "quick", *values))
    assert err.value.key == "err.server_disk_full" and "服务器" in err.value.text("zh-CN")
    assert ctx.visitor(asks).job is None


def test_a_folder_no_visitor_owns_is_swept_once_it_has_been_quiet_a_minute(tmp_path):
    store = SessionStore(tmp_path)
    visitor = store.get("someone")
    orphan = write(tmp_path / "left-behind" / "checkpoints" / "run1" / "step-99.safetensors", 1000)
    fresh = write(tmp_path / "being-made" / "x", 10)  # a visitor's folder a moment before it is known
    pictures = write(tmp_path / "pictures" / "p.png", 10, age=3600)
    then = time.time() - 120
    os.utime(orphan.parents[2], (then, then))
    store.sweep()
    assert not orphan.parents[2].exists() and fresh.exists() and pictures.exists() and visitor.folder.exists()
