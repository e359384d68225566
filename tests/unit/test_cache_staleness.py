"""Freshness: a data-as-of in the future (wrong PC clock) is never fresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.cache.staleness import FUTURE_AS_OF_MESSAGE, Freshness
from paperfallback.cache.store import CacheStore
from paperfallback.cache.ward_summary import CacheLevel, cache_banner
from paperfallback.cli.main import main

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_a_future_data_as_of_beyond_clock_skew_is_stale() -> None:
    future = Freshness(NOW + timedelta(hours=2), NOW, stale_minutes=60)
    assert future.is_future and future.is_stale
    assert FUTURE_AS_OF_MESSAGE in future.age_text
    assert FUTURE_AS_OF_MESSAGE == "data-as-of time is in the future: check the PC clock"


def test_a_few_minutes_of_clock_skew_is_still_fresh() -> None:
    skew = Freshness(NOW + timedelta(minutes=4), NOW, stale_minutes=60)
    assert not skew.is_future and not skew.is_stale
    assert skew.age_text == "0 minutes"


def test_status_and_banner_say_check_the_pc_clock(
    data_dir: Path, make_sample_snapshot, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    """The cache as a PC whose clock went back a day after the import sees it."""
    import dataclasses

    snapshot = dataclasses.replace(make_sample_snapshot(),
                                   data_as_of=datetime.now(UTC) + timedelta(days=1))
    with CacheStore.open(data_dir, "test-key-not-secret") as store:
        store.replace_snapshot(snapshot)
        status = store.status(stale_minutes=60)
    assert status.is_stale
    banner = cache_banner(status)
    assert banner.level is CacheLevel.STALE and FUTURE_AS_OF_MESSAGE in banner.headline
    assert main(["cache", "status"]) == 0
    out = capsys.readouterr().out
    assert "STALE" in out and FUTURE_AS_OF_MESSAGE in out and "(fresh" not in out
    assert main(["cache", "status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stale"] is True and FUTURE_AS_OF_MESSAGE in data["problems"]


def test_cache_import_with_a_future_as_of_is_refused(
    data_dir: Path, tmp_path: Path, write_tiny_drop, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    extract = write_tiny_drop(tmp_path / "x", transaction_time=datetime.now(UTC).isoformat())
    assert main(["cache", "import", str(extract), "--as-of", "2099-06-01T10:00"]) == 1
    err = capsys.readouterr().err
    assert "--as-of" in err and "in the future" in err
    with CacheStore.open(data_dir, "test-key-not-secret") as store:
        assert not store.status().has_snapshot
