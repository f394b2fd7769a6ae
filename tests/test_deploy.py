"""What a push to a Hugging Face Space needs: every binary file the Hub would refuse without LFS is covered by
an LFS rule in .gitattributes (binary files over 1 MB, any file over 10 MiB, and every model, compressed novel
and picture whatever its size)."""

import subprocess

import pytest
from helpers import ROOT

MB, MIB = 1_000_000, 10 * 1024 * 1024


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in out.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def stored_with_lfs(paths: list[str]) -> set[str]:
    out = subprocess.run(
        ["git", "check-attr", "-z", "filter", "--", *paths], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    fields = out.split("\0")
    return {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] == "lfs"}


def is_binary(path) -> bool:
    head = path.read_bytes()[:8192]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start < len(head) - 4  # (a character cut at the end of the sample is not binary)
    return False


def test_every_file_the_hub_would_refuse_without_lfs_is_stored_with_it():
    files = tracked_files()
    lfs = stored_with_lfs(files)
    refused = [
        name for name in files if (size := (ROOT / name).stat().st_size) > MIB or (size > MB and is_binary(ROOT / name))
    ]
    assert refused and set(refused) <= lfs, sorted(set(refused) - lfs)  # the 13.6 MB model is among them


def test_models_novels_and_pictures_go_to_lfs_whatever_their_size():
    files = tracked_files()
    lfs = stored_with_lfs(files)
    for name in files:
        if name.endswith((".safetensors", ".xz", ".jpg", ".png")):
            assert name in lfs, name
    assert not any(name.endswith((".py", ".md", ".json", ".txt")) for name in lfs)  # text stays text
