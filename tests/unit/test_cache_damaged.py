"""A cache file with a damaged page (disk fault, power cut mid-write, a bad copy).

Reproduces the audit's case: copy a good data folder, overwrite 4 KB at offset 50000 of
cache.db with random bytes. Every command must end in one clear line (never a sqlcipher3
traceback), ``cache status`` must report the damage (exit 1, JSON for monitoring), and
``cache import`` / ``cache refresh`` must rebuild the file, keeping the damaged one for IT.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.domain.errors import CacheError

KEY = "test-key-not-secret"
WriteDrop = Callable[..., Path]


def _damage(folder: Path) -> None:
    """Overwrite 4 KB at offset 50000 of cache.db with random bytes."""
    with (folder / "cache.db").open("r+b") as handle:
        handle.seek(50_000)
        handle.write(os.urandom(4096))


@pytest.fixture
def damaged_dir(demo_data_dir: Path) -> Path:
    _damage(demo_data_dir)
    return demo_data_dir


def _one_line_damage_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "DatabaseError" not in captured.err
    err = captured.err.strip()
    assert err.count("\n") == 0, err
    assert "is damaged" in err and "cache import" in err and "blank forms still print" in err
    return err


def test_store_queries_raise_cache_error_not_database_error(damaged_dir: Path) -> None:
    with CacheStore.open(damaged_dir, KEY) as store:
        ward = "W3"
        with pytest.raises(CacheError, match="is damaged"):
            store.ward_records(ward)
        with pytest.raises(CacheError, match="is damaged"):
            store.patients(ward_code=ward)


def test_print_and_patients_end_in_one_clear_line(
    damaged_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["patients", "--ward", "W3"]) == 1
    _one_line_damage_error(capsys)
    assert main(["print", "--ward", "W3", "--out", str(tmp_path / "w.pdf")]) == 1
    _one_line_damage_error(capsys)
    # Blank forms never need the cache.
    assert main(["print", "--blank", "news2", "--out", str(tmp_path / "b.pdf")]) == 0
    assert (tmp_path / "b.pdf").stat().st_size > 0


def test_status_reports_the_damage_and_exits_1(
    damaged_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "status"]) == 1
    assert "CACHE FILE DAMAGED" in capsys.readouterr().out
    assert main(["cache", "status", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["damaged"] is True and data["has_snapshot"] is False
    assert data["needs_attention"] is True
    assert "is damaged" in data["damage"] and data["damage"] in data["problems"]


def test_import_rebuilds_a_damaged_file_and_keeps_it_for_it(
    damaged_dir: Path, tmp_path: Path, write_tiny_drop: WriteDrop,
    capsys: pytest.CaptureFixture[str],
) -> None:
    extract = write_tiny_drop(tmp_path / "extract",
                              transaction_time=(datetime.now(UTC) - timedelta(minutes=2))
                              .isoformat())
    assert main(["cache", "import", str(extract)]) == 0
    capsys.readouterr()
    kept = list(damaged_dir.glob("cache.db.damaged-*"))
    assert len(kept) == 1 and kept[0].stat().st_size > 50_000
    assert not (damaged_dir / "cache.db.new").exists()
    assert main(["cache", "status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["damaged"] is False and data["counts"]["patients"] == 4
    assert main(["patients"]) == 0
    assert "4 patients" in capsys.readouterr().out


def test_refresh_rebuilds_a_damaged_file(
    damaged_dir: Path, tmp_path: Path, write_tiny_drop: WriteDrop,
    capsys: pytest.CaptureFixture[str],
) -> None:
    drops = tmp_path / "drops"
    write_tiny_drop(drops / "a",
                    transaction_time=(datetime.now(UTC) - timedelta(minutes=2)).isoformat())
    assert main(["cache", "refresh", "--from", str(drops)]) == 0
    capsys.readouterr()
    assert list(damaged_dir.glob("cache.db.damaged-*"))
    assert main(["cache", "status", "--check"]) == 0
    assert main(["patients", "--ward", "W1"]) == 0
    assert "4 patients" in capsys.readouterr().out


def test_status_json_with_a_wrong_key_is_still_json(
    demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAPERFALLBACK_KEY", "not-the-key")
    assert main(["cache", "status", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["needs_attention"] is True
    assert "key is wrong" in data["error"]
