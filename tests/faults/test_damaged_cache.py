"""Fault 4: damaged first pages of cache.db (truncated to 1 MB; bytes flipped at offset
100, inside page 1). The message says "damaged", not "key is wrong" (work.db proves the
key); `cache import`, `--force` and `refresh` replace the file, keeping it as
``cache.db.damaged-*``; blank forms print throughout; what was keyed is untouched."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pf_fault_helpers import Run, status_json


def _truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(1024 * 1024)


def _flip_at_100(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(100)
        data = handle.read(16)
        handle.seek(100)
        handle.write(bytes(b ^ 0xFF for b in data))


@pytest.fixture(params=[_truncate, _flip_at_100], ids=["truncated-1MB", "flipped-at-100"])
def damaged(request: pytest.FixtureRequest, demo_data_dir: Path, run: Run,
            tmp_path: Path) -> Path:
    assert (demo_data_dir / "cache.db").stat().st_size > 1024 * 1024
    assert run("print", "--ward", "W3", "--forms", "news2", "--out",
               str(tmp_path / "before.pdf"))[0] == 0  # work.db now holds the register
    request.param(demo_data_dir / "cache.db")
    return demo_data_dir


def _extract(tmp_path: Path, write_tiny_drop: Callable[..., Path]) -> Path:
    return write_tiny_drop(tmp_path / "drops" / "a", transaction_time=(
        datetime.now(UTC) - timedelta(minutes=2)).isoformat())


@pytest.mark.parametrize("how", ["import", "import --force", "refresh"])
def test_damaged_first_pages_are_named_and_replaced(
        damaged: Path, run: Run, blank_prints: Callable[[], str], tmp_path: Path,
        write_tiny_drop: Callable[..., Path], how: str) -> None:
    registered = _register_ids(run)
    code, _out, err = run("print", "--ward", "W3", "--out", str(tmp_path / "w.pdf"))
    assert code == 1 and "is damaged" in err and "key is wrong" not in err
    assert "cache import" in err
    data = status_json(run)
    assert data["fault"] == "damaged" and data["damaged"] is True
    assert "key is wrong" not in str(data["fault_message"])
    blank_prints()
    extract = _extract(tmp_path, write_tiny_drop)
    if how == "refresh":
        code, _out, err = run("cache", "refresh", "--from", str(extract.parent))
    else:
        code, _out, err = run("cache", *how.split(), str(extract))
    assert code == 0, err
    assert list(damaged.glob("cache.db.damaged-*")), "the damaged file is kept for IT"
    data = status_json(run)
    assert data["fault"] is None and data["damaged"] is False
    assert data["counts"]["patients"] == 4
    assert registered < _register_ids(run)  # kept, and the blank forms were added


def _register_ids(run: Run) -> set[str]:
    code, out, _err = run("register", "list", "--json")
    assert code == 0
    return {item["instance_id"] for item in json.loads(out)}
