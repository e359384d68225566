"""Cache refresh from a drop folder: the drop convention, failure handling, monitoring.

Convention (docs/install.md): one subfolder per extract, ``manifest.json`` or ``READY``
written last; only the newest complete drop is read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.cache.refresh import RefreshFailed, newest_drop, refresh_cache
from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.settings import Settings

KEY = "test-key-not-secret"
WriteDrop = Callable[..., Path]


def _ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def _touch(path: Path, mtime: float) -> None:
    os.utime(path, (mtime, mtime))


@pytest.fixture
def store(data_dir: Path) -> Iterator[CacheStore]:
    with CacheStore.open(data_dir, KEY) as cache:
        yield cache


@pytest.fixture
def drops(tmp_path: Path) -> Path:
    folder = tmp_path / "drops"
    folder.mkdir()
    return folder


def _refresh(store: CacheStore, drops: Path, data_dir: Path, **settings: object) -> object:
    return refresh_cache(store, str(drops), data_dir=data_dir, settings=Settings(**settings))


def test_newest_complete_drop_wins_and_half_written_ones_are_never_read(
    drops: Path, write_tiny_drop: WriteDrop
) -> None:
    older = write_tiny_drop(drops / "20261124T0600Z")
    newer = write_tiny_drop(drops / "20261124T0615Z")
    _touch(older / "manifest.json", 1_000)
    _touch(newer / "manifest.json", 2_000)
    write_tiny_drop(drops / "20261124T0630Z", marker=False)  # still being written
    hidden = write_tiny_drop(drops / "20261124T0645Z.partial")
    _touch(hidden / "manifest.json", 3_000)
    csv_drop = drops / "20261124T0500Z"
    csv_drop.mkdir()
    (csv_drop / "READY").touch()
    _touch(csv_drop / "READY", 500)
    (drops / "notes.txt").write_text("not a drop")

    assert newest_drop(drops) == newer


def test_no_complete_drop_fails_and_says_why(
    store: CacheStore, drops: Path, data_dir: Path, write_tiny_drop: WriteDrop
) -> None:
    write_tiny_drop(drops / "20261124T0630Z", marker=False)

    with pytest.raises(RefreshFailed, match=r"no complete extract.*1 still being written"):
        _refresh(store, drops, data_dir)

    status = store.status()
    assert status.last_refresh_failed
    assert "no complete extract" in status.last_refresh_message
    assert not status.has_snapshot


def test_an_extract_directly_in_the_source_folder_is_refused(
    store: CacheStore, drops: Path, data_dir: Path, write_tiny_drop: WriteDrop
) -> None:
    write_tiny_drop(drops)
    with pytest.raises(RefreshFailed, match="its own subfolder"):
        _refresh(store, drops, data_dir)


def test_corrupt_drop_keeps_previous_snapshot(
    store: CacheStore, drops: Path, data_dir: Path, write_tiny_drop: WriteDrop
) -> None:
    first_time = _ago(20)
    write_tiny_drop(drops / "a", transaction_time=first_time)
    _refresh(store, drops, data_dir)
    bad = write_tiny_drop(drops / "b", transaction_time=_ago(5))
    with (bad / "Patient.ndjson").open("a", encoding="utf-8") as handle:
        handle.write("{this is not json\n")
    _touch(bad / "manifest.json", (drops / "a" / "manifest.json").stat().st_mtime + 60)

    with pytest.raises(RefreshFailed, match=r"Patient\.ndjson"):
        _refresh(store, drops, data_dir)

    status = store.status()
    assert status.data_as_of == datetime.fromisoformat(first_time)
    assert len(store.patients()) == 4
    assert status.last_refresh_failed


def test_manifest_listing_a_missing_file_keeps_previous_snapshot(
    store: CacheStore, drops: Path, data_dir: Path, write_tiny_drop: WriteDrop
) -> None:
    first_time = _ago(20)
    write_tiny_drop(drops / "a", transaction_time=first_time)
    _refresh(store, drops, data_dir)
    bad = write_tiny_drop(drops / "b", transaction_time=_ago(5))
    (bad / "Encounter.ndjson").unlink()
    _touch(bad / "manifest.json", (drops / "a" / "manifest.json").stat().st_mtime + 60)

    with pytest.raises(RefreshFailed, match="not in the folder"):
        _refresh(store, drops, data_dir)

    assert store.status().data_as_of == datetime.fromisoformat(first_time)
    assert len(store.patients()) == 4


def test_a_partial_drop_is_refused_unless_forced(
    store: CacheStore, drops: Path, data_dir: Path, write_tiny_drop: WriteDrop
) -> None:
    write_tiny_drop(drops / "a", patients=6, transaction_time=_ago(20))
    _refresh(store, drops, data_dir)
    small = write_tiny_drop(drops / "b", patients=2, transaction_time=_ago(5))
    _touch(small / "manifest.json", (drops / "a" / "manifest.json").stat().st_mtime + 60)

    assert main(["cache", "refresh", "--from", str(drops)]) == 1
    assert len(store.patients()) == 6
    assert main(["cache", "refresh", "--from", str(drops), "--force"]) == 0
    assert len(store.patients()) == 2


def test_nothing_new_is_fine_while_fresh_and_a_failure_once_stale(
    store: CacheStore, drops: Path, data_dir: Path, write_tiny_drop: WriteDrop,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_tiny_drop(drops / "a", transaction_time=_ago(10))
    assert main(["cache", "refresh", "--from", str(drops)]) == 0
    assert main(["cache", "refresh", "--from", str(drops)]) == 0
    assert "Nothing new" in capsys.readouterr().out

    (data_dir / "settings.json").write_text(json.dumps({"stale_minutes": 5}))
    assert main(["cache", "refresh", "--from", str(drops)]) == 1
    assert "integration engine" in capsys.readouterr().err
    assert store.status(stale_minutes=5).last_refresh_failed


def test_refresh_source_comes_from_settings_when_not_given(
    store: CacheStore, drops: Path, data_dir: Path, write_tiny_drop: WriteDrop,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cache", "refresh"]) == 1
    assert "refresh_source" in capsys.readouterr().err
    write_tiny_drop(drops / "a", transaction_time=_ago(1))
    (data_dir / "settings.json").write_text(json.dumps({"refresh_source": str(drops)}))

    assert main(["cache", "refresh"]) == 0
    assert len(store.patients()) == 4


def test_status_json_says_when_the_last_success_was_and_whether_the_last_attempt_failed(
    drops: Path, data_dir: Path, write_tiny_drop: WriteDrop,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def status() -> dict[str, object]:
        assert main(["cache", "status", "--json"]) == 0
        data: dict[str, object] = json.loads(capsys.readouterr().out)
        return data

    empty = status()
    assert empty["last_successful_refresh"] is None
    assert empty["needs_attention"] is True

    write_tiny_drop(drops / "a", transaction_time=_ago(2))
    assert main(["cache", "refresh", "--from", str(drops)]) == 0
    capsys.readouterr()
    ok = status()
    assert ok["last_successful_refresh"] is not None
    assert ok["last_refresh_failed"] is False
    assert ok["problems"] == []
    assert main(["cache", "status", "--check"]) == 0

    assert main(["cache", "refresh", "--from", str(drops / "missing")]) == 1
    capsys.readouterr()
    failed = status()
    assert failed["last_refresh_failed"] is True
    assert failed["last_successful_refresh"] == ok["last_successful_refresh"]
    assert failed["last_refresh_attempt"] != ok["last_refresh_attempt"]
    assert "does not exist" in str(failed["last_refresh_message"])
    assert failed["problems"] == ["the last refresh attempt failed"]

    # Two hours without a success is what sites raise a ticket for.
    overdue_json = main(["cache", "status", "--json", "--refresh-alert-minutes", "0"])
    assert overdue_json == 0
    overdue = json.loads(capsys.readouterr().out)
    assert any("no successful refresh for more than 0 minutes" in p
               for p in overdue["problems"])


def test_a_drop_without_its_own_time_is_as_old_as_its_marker(
    store: CacheStore, drops: Path, data_dir: Path, write_tiny_drop: WriteDrop
) -> None:
    drop = write_tiny_drop(drops / "a", marker=False)
    patients = (drop / "Patient.ndjson").read_text(encoding="utf-8").splitlines()
    (drop / "Patient.ndjson").write_text(
        "".join(json.dumps({k: v for k, v in json.loads(line).items() if k != "meta"}) + "\n"
                for line in patients),
        encoding="utf-8",
    )
    (drop / "READY").touch()
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    _touch(drop / "READY", three_hours_ago.timestamp())

    _refresh(store, drops, data_dir)

    status = store.status()
    assert status.as_of_source == "drop marker time"
    assert status.data_as_of is not None
    assert abs((status.data_as_of - three_hours_ago).total_seconds()) < 1
    assert status.is_stale  # a feed stuck on one old drop never looks fresh
