"""Fault 8: files and folders PaperFallback creates are private to the user (0600/0700 on
POSIX; Windows ACLs are documented in docs/install.md), and ``self-test`` fails on a key
file that other users can read."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pf_fault_helpers import Run

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX modes; Windows uses ACLs")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_everything_created_is_private(tmp_path: Path, run: Run,
                                       monkeypatch: pytest.MonkeyPatch,
                                       write_tiny_drop: Callable[..., Path]) -> None:
    old = os.umask(0o022)  # a typical desktop umask: files would be 0644
    try:
        data = tmp_path / "fresh-data"
        monkeypatch.setenv("PAPERFALLBACK_DATA_DIR", str(data))
        monkeypatch.delenv("PAPERFALLBACK_KEY")  # the key-file fallback (no keyring here)
        extract = write_tiny_drop(tmp_path / "drop", transaction_time=(
            datetime.now(UTC) - timedelta(minutes=2)).isoformat())
        assert run("cache", "import", str(extract))[0] == 0
        pdf = tmp_path / "blank.pdf"
        assert run("print", "--blank", "news2", "--out", str(pdf))[0] == 0
        assert _mode(data) == 0o700
        for name in ("cache.db", "work.db", "cache.key", "key.check", "blank-ids.json"):
            assert _mode(data / name) == 0o600, name
        assert _mode(data / "logs") == 0o700
        assert _mode(pdf) == 0o600
    finally:
        os.umask(old)


def test_self_test_fails_on_a_key_file_others_can_read(
        data_dir: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERFALLBACK_KEY")
    assert run("demo", "--seed", "7")[0] == 0
    key_file = data_dir / "cache.key"
    assert _mode(key_file) == 0o600
    code, out, _err = run("self-test")
    assert "PASS cache opens with key from" in out
    key_file.chmod(0o644)
    code, out, _err = run("self-test")
    assert code == 1
    assert "FAIL cache opens with key from" in out
    assert "the key file" in out and "can be read by other users" in out
