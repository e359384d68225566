"""Logs live in <data dir>/logs/, rotate, and follow the data folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfallback import logs
from paperfallback.logs import close_logging, log_path, setup_logging


@pytest.fixture(autouse=True)
def _detach_log_handler() -> Iterator[None]:
    yield
    close_logging()


def test_logs_rotate_at_the_size_limit(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    monkeypatch.setattr(logs, "BACKUP_COUNT", 2)
    setup_logging(data_dir)
    log = logging.getLogger("paperfallback.test")
    for n in range(200):
        log.info("printed form instance K7Q%04d", n)
    files = sorted(p.name for p in (data_dir / "logs").iterdir())
    assert files == ["paperfallback.log", "paperfallback.log.1", "paperfallback.log.2"]
    assert all((data_dir / "logs" / f).stat().st_size <= 2_200 for f in files)
    assert "K7Q0199" in log_path(data_dir).read_text(encoding="utf-8")


def test_handler_follows_the_data_folder_and_is_not_duplicated(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    setup_logging(first)
    setup_logging(first)
    logging.getLogger("paperfallback.test").info("one")
    setup_logging(second)
    logging.getLogger("paperfallback.test").info("two")
    one = log_path(first).read_text(encoding="utf-8")
    assert one.count(" one") == 1
    assert "two" not in one
    assert "two" in log_path(second).read_text(encoding="utf-8")


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_log_folder_is_private(data_dir: Path) -> None:
    setup_logging(data_dir)
    assert (data_dir / "logs").stat().st_mode & 0o077 == 0
    assert log_path(data_dir).stat().st_mode & 0o077 == 0


def test_an_unwritable_folder_does_not_stop_the_app(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert setup_logging(blocker) is None  # logs/ cannot be made inside a file


def test_every_command_is_logged_with_its_exit_code(data_dir: Path) -> None:
    from paperfallback.cli.main import main

    assert main(["cache", "status"]) == 0
    text = log_path(data_dir).read_text(encoding="utf-8")
    assert "cache status: started" in text
    assert "cache status: exit 0" in text
