"""Fault: a data file this Windows user may not open (another account's cache.db, 0600).
Caused for real by running PaperFallback as another user (``runuser -u nobody``) on a data
folder it may write but whose cache it may not read. The status names "permission
denied" (not a wrong key, not damage), blank forms still print, nothing is changed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfallback.cli.main import main

KEY = "test-key-not-secret"


def _as_nobody(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, *argv],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def other_users_cache() -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to act as a second user")
    env = dict(os.environ, PAPERFALLBACK_KEY=KEY)
    probe = _as_nobody("-c", "import paperfallback", env=env)
    if probe.returncode != 0:
        pytest.skip(f"user 'nobody' cannot run this checkout's Python: {probe.stderr[-200:]}")
    root = Path(tempfile.mkdtemp(prefix="pf-perm-", dir="/tmp"))
    try:
        root.chmod(0o755)
        data = root / "data"
        assert main(["--data-dir", str(data), "demo"]) == 0
        for path in (data, data / "logs"):
            path.chmod(0o777)  # the folder is usable; the cache file is root's, 0600
        assert (data / "cache.db").stat().st_mode & 0o077 == 0
        out = root / "out"
        out.mkdir()
        out.chmod(0o777)
        yield data
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_cache_this_user_may_not_open_is_named_and_blank_forms_print(
        other_users_cache: Path) -> None:
    data = other_users_cache
    env = dict(os.environ, PAPERFALLBACK_KEY=KEY)
    before = (data / "cache.db").read_bytes()
    status = _as_nobody("-m", "paperfallback", "--data-dir", str(data), "cache", "status",
                        "--json", env=env)
    assert status.returncode == 1 and "Traceback" not in status.stderr
    report = json.loads(status.stdout)
    assert report["fault"] == "permission-denied"
    assert "permission denied" in report["fault_message"]
    assert "key is wrong" not in report["fault_message"] and not report["damaged"]
    out = data.parent / "out" / "blank.pdf"
    printed = _as_nobody("-m", "paperfallback", "--data-dir", str(data), "print", "--blank",
                         "news2", "--out", str(out), env=env)
    assert printed.returncode == 0, printed.stderr
    assert out.read_bytes().startswith(b"%PDF")
    assert (data / "cache.db").read_bytes() == before  # nothing changed
