"""Fault 5: another process holds the cache's write lock for longer than 5 s (a long
refresh). Readers open read-only and never write, so printing and ``cache status --json``
go on from the last committed snapshot at once; a lock that keeps even readers out (an
exclusive lock) is waited for at most ~1.5 s and named "locked", never "damaged"."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pf_fault_helpers import KEY, Run, status_json

HOLDER = textwrap.dedent("""
    import sys, time
    import sqlcipher3
    conn = sqlcipher3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA key = '" + sys.argv[2] + "'")
    if sys.argv[3] == "exclusive":
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE" if sys.argv[3] == "exclusive" else "BEGIN IMMEDIATE")
    conn.execute("INSERT INTO refresh_log VALUES ('2026-01-01', 0, 'holder', 'held')")
    print("held", flush=True)
    time.sleep(float(sys.argv[4]))
    conn.execute("ROLLBACK")
""")


@pytest.fixture
def hold_lock(demo_data_dir: Path) -> Iterator[Callable[[str], None]]:
    children: list[subprocess.Popen[str]] = []

    def hold(mode: str) -> None:
        child = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(demo_data_dir / "cache.db"), KEY, mode, "30"],
            stdout=subprocess.PIPE, text=True)
        children.append(child)
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        time.sleep(5.5)  # longer than the old 5 s busy wait: a long refresh

    yield hold
    for child in children:
        child.kill()
        child.wait()


def test_a_refresh_holding_the_write_lock_never_stops_printing(
        demo_data_dir: Path, hold_lock: Callable[[str], None], run: Run, tmp_path: Path,
        blank_prints: Callable[[], str]) -> None:
    hold_lock("immediate")
    started = time.monotonic()
    data = status_json(run)
    assert data["fault"] is None and data["has_snapshot"] is True
    code, _out, err = run("print", "--ward", "W3", "--forms", "news2", "--out",
                          str(tmp_path / "ward.pdf"))
    assert code == 0, err
    assert time.monotonic() - started < 5, "readers must not wait for the writer"
    blank_prints()


def test_a_lock_that_keeps_readers_out_is_named_locked(
        demo_data_dir: Path, hold_lock: Callable[[str], None], run: Run, tmp_path: Path,
        blank_prints: Callable[[], str]) -> None:
    hold_lock("exclusive")
    started = time.monotonic()
    data = status_json(run)
    assert data["fault"] == "locked" and "another PaperFallback process" in str(
        data["fault_message"])
    assert "damaged" not in str(data["fault_message"])
    assert time.monotonic() - started < 4
    code, _out, err = run("print", "--ward", "W3", "--out", str(tmp_path / "ward.pdf"))
    assert code == 1 and "busy" in err and "blank forms still print" in err
    blank_prints()
