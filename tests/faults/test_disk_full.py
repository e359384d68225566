"""Fault 2: the disk holding the data folder is full (a small tmpfs filled to the last
byte). Blank and pre-filled forms still print (the IDs come from the reserve, which is
updated in place), the message says "full", not "key is wrong", monitoring says
``disk-full``, and nothing saved is lost: once space is freed the forms printed meanwhile
are in the register."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pf_fault_helpers import Run, status_json


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs (root only): a real full disk, ENOSPC from the kernel."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.name == "nt" or os.geteuid() != 0:
        pytest.skip("a full disk needs root to mount a small tmpfs; RLIMIT_FSIZE would also "
                    "stop the PDF being written, so it cannot show that paper still prints")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def _register_ids(run: Run) -> set[str]:
    code, out, _err = run("register", "list", "--json")
    assert code == 0
    return {item["instance_id"] for item in json.loads(out)}


def test_a_full_disk_still_prints_and_loses_nothing(
        small_disk: Path, demo_data_dir: Path, run: Run, tmp_path: Path,
        blank_prints: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = small_disk / "data"
    shutil.copytree(demo_data_dir, data)
    monkeypatch.setenv("PAPERFALLBACK_DATA_DIR", str(data))
    assert run("print", "--ward", "W3", "--forms", "news2", "--out",
               str(tmp_path / "before.pdf"))[0] == 0
    before = _register_ids(run)
    filler = _fill(small_disk)

    note = blank_prints()
    assert "full" in note and "key is wrong" not in note
    code, _out, err = run("print", "--ward", "W3", "--forms", "news2", "--out",
                          str(tmp_path / "ward.pdf"))
    assert code == 0, err
    assert "full" in err and "key is wrong" not in err
    assert (tmp_path / "ward.pdf").read_bytes().startswith(b"%PDF")
    status = status_json(run)
    assert status["fault"] == "disk-full" and "full" in str(status["fault_message"])
    assert status["has_snapshot"] is True  # the cache is still read

    filler.unlink()
    after = _register_ids(run)
    assert before < after  # kept, and the forms printed on the full disk were entered
    assert len(after - before) >= 2 + 1  # two blank forms and the ward's pack
