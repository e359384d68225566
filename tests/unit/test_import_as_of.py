"""Data-as-of precedence: option > Bundle.timestamp > manifest > meta.lastUpdated > now."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from paperfallback.cache.importers import read_extract

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _patient(updated: str | None = None) -> dict[str, object]:
    res: dict[str, object] = {"resourceType": "Patient", "id": "p1",
                              "name": [{"family": "Jones"}]}
    if updated:
        res["meta"] = {"lastUpdated": updated}
    return res


def _folder(tmp_path: Path, *, stamp: str | None, manifest: str | None,
            updated: str | None) -> Path:
    folder = tmp_path / "x"
    folder.mkdir()
    bundle: dict[str, object] = {"resourceType": "Bundle", "type": "collection",
                                 "entry": [{"resource": _patient(updated)}]}
    if stamp:
        bundle["timestamp"] = stamp
    if manifest:
        (folder / "Flag.ndjson").write_text("")
        (folder / "manifest.json").write_text(json.dumps({
            "transactionTime": manifest,
            "output": [{"type": "Flag", "url": "https://x.example/Flag.ndjson"}]}))
    (folder / "bundle.json").write_text(json.dumps(bundle))
    return folder


def test_option_wins_over_everything(tmp_path: Path) -> None:
    folder = _folder(tmp_path, stamp="2026-03-02T09:00:00Z", manifest="2026-03-02T08:00:00Z",
                     updated="2026-03-02T07:00:00Z")
    snap = read_extract([folder], as_of=datetime(2026, 3, 2, 11, 0), now=NOW)
    assert snap.as_of_source == "option"
    assert snap.data_as_of == datetime(2026, 3, 2, 11, 0, tzinfo=ZoneInfo("Europe/London"))


def test_bundle_timestamp_then_manifest_then_last_updated_then_now(tmp_path: Path) -> None:
    cases = [
        (dict(stamp="2026-03-02T09:00:00Z", manifest="2026-03-02T08:00:00Z",
              updated="2026-03-02T07:00:00Z"), "bundle.timestamp", 9),
        (dict(stamp=None, manifest="2026-03-02T08:00:00Z", updated="2026-03-02T07:00:00Z"),
         "manifest.transactionTime", 8),
        (dict(stamp=None, manifest=None, updated="2026-03-02T07:00:00Z"),
         "meta.lastUpdated", 7),
        (dict(stamp=None, manifest=None, updated=None), "import time", 12),
    ]
    for n, (kwargs, source, hour) in enumerate(cases):
        base = tmp_path / str(n)
        base.mkdir()
        snap = read_extract([_folder(base, **kwargs)], now=NOW)  # type: ignore[arg-type]
        assert (snap.as_of_source, snap.data_as_of) == (
            source, datetime(2026, 3, 2, hour, 0, tzinfo=UTC)
        )


def test_naive_times_are_uk_local_and_always_aware(tmp_path: Path) -> None:
    folder = _folder(tmp_path, stamp="2026-07-01T09:00:00", manifest=None, updated=None)
    snap = read_extract([folder], now=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert snap.data_as_of.tzinfo is not None
    assert snap.data_as_of == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # BST = UTC+1


def test_a_future_data_as_of_is_refused_naming_its_source(tmp_path: Path) -> None:
    """A future time would make old data look fresh ("Age 0 minutes") on every page."""
    import pytest

    from paperfallback.domain.errors import InputError

    cases = [
        (dict(stamp="2026-03-02T13:00:00Z", manifest=None, updated=None), "bundle.timestamp"),
        (dict(stamp=None, manifest="2026-03-02T13:00:00Z", updated=None), "transactionTime"),
        (dict(stamp=None, manifest=None, updated="2027-01-01T00:00:00Z"), "meta.lastUpdated"),
    ]
    for n, (kwargs, source) in enumerate(cases):
        base = tmp_path / str(n)
        base.mkdir()
        with pytest.raises(InputError, match="is in the future") as err:
            read_extract([_folder(base, **kwargs)], now=NOW)  # type: ignore[arg-type]
        assert source in str(err.value)
    option = tmp_path / "o"
    option.mkdir()
    folder = _folder(option, stamp="2026-03-02T09:00:00Z", manifest=None, updated=None)
    with pytest.raises(InputError, match="data-as-of time given for the import") as err:
        read_extract([folder], as_of=datetime(2027, 6, 1, 10, 0), now=NOW)
    assert err.value.where is None  # the core names no flag (the app shows its errors)
    from paperfallback.cli.cache_cmd import parse_as_of

    with pytest.raises(InputError, match="in the future") as err:
        parse_as_of("2099-06-01T10:00")  # the CLI names its own flag
    assert err.value.where == "--as-of"


def test_clock_skew_within_five_minutes_is_accepted(tmp_path: Path) -> None:
    folder = _folder(tmp_path, stamp="2026-03-02T12:04:00Z", manifest=None, updated=None)
    snap = read_extract([folder], now=NOW)
    assert snap.data_as_of == datetime(2026, 3, 2, 12, 4, tzinfo=UTC)
