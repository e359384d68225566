"""Fault 3: a read-only data folder (a read-only bind mount as root, who ignores file
modes; ``chmod`` otherwise). Pre-filled and blank forms still print (the cache is read as
it is on disk; IDs come from the reserve's stand-in in the user's temp folder), the
message says "read-only", not "key is wrong", and monitoring says ``read-only``."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pf_fault_helpers import Run, status_json


@pytest.fixture
def make_read_only(demo_data_dir: Path) -> Iterator[Callable[[bool], None]]:
    folder = demo_data_dir
    as_root = os.name != "nt" and os.geteuid() == 0
    state = {"ro": False}

    def switch(read_only: bool) -> None:
        if read_only == state["ro"]:
            return
        if as_root:
            if read_only:
                for cmd in (["mount", "--bind", str(folder), str(folder)],
                            ["mount", "-o", "remount,ro,bind", str(folder)]):
                    done = subprocess.run(cmd, capture_output=True, text=True)
                    if done.returncode != 0:
                        pytest.skip(f"cannot make a read-only bind mount: {done.stderr}")
            else:
                subprocess.run(["umount", "-l", str(folder)], check=True)
        else:
            for path in [folder, *folder.iterdir()]:
                mode = (0o500 if path.is_dir() else 0o400) if read_only else (
                    0o700 if path.is_dir() else 0o600)
                path.chmod(mode)
        state["ro"] = read_only

    yield switch
    switch(False)


def test_a_read_only_folder_still_prints(
        demo_data_dir: Path, run: Run, tmp_path: Path, blank_prints: Callable[[], str],
        make_read_only: Callable[[bool], None]) -> None:
    assert run("print", "--ward", "W3", "--forms", "news2", "--out",
               str(tmp_path / "before.pdf"))[0] == 0
    code, out, _err = run("register", "list", "--json")
    before = {item["instance_id"] for item in json.loads(out)}
    make_read_only(True)
    with pytest.raises(OSError):
        (demo_data_dir / "probe").write_text("x")

    note = blank_prints()
    assert "read-only" in note and "key is wrong" not in note
    code, _out, err = run("print", "--ward", "W3", "--forms", "news2", "--out",
                          str(tmp_path / "ward.pdf"))
    assert code == 0, err
    assert "read-only" in err and "key is wrong" not in err
    status = status_json(run)
    assert status["fault"] == "read-only" and status["has_snapshot"] is True

    make_read_only(False)
    code, out, _err = run("register", "list", "--json")
    after = {item["instance_id"] for item in json.loads(out)}
    assert before < after and len(after - before) >= 3
