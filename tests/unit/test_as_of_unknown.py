"""Never present old data as fresh: an extract with no time of its own has an unknown age.

Rule (hazard BULK-2): a cache whose data-as-of time is not known is always stale, never
fresh, whatever its import time. Pages, the app's banner and ``cache status`` say "not
known"; ``cache status --json`` gives ``data_as_of`` null, ``data_as_of_known`` false and
``as_of_source`` "unknown", and keeps its other keys.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperfallback.cache.staleness import (
    UNKNOWN_AS_OF_MESSAGE,
    Freshness,
    public_as_of_source,
)
from paperfallback.cache.store import CacheStore
from paperfallback.cache.ward_summary import CacheLevel, cache_banner
from paperfallback.cli.main import main
from paperfallback.render.furniture import stale_text

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SYNTHEA = Path(__file__).parent.parent / "fixtures" / "synthea-bulk-10"


def _status(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    main(["cache", "status", "--json"])
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def _timeless_extract(folder: Path) -> Path:
    """One Patient with no meta.lastUpdated, no Bundle timestamp, no manifest."""
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(json.dumps({
        "resourceType": "Patient", "id": "p1",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
        "name": [{"family": "Timeless", "given": ["Tess"]}], "birthDate": "1950-01-01",
    }) + "\n", encoding="utf-8")
    return folder


def test_unknown_time_is_stale_even_at_age_zero() -> None:
    unknown = Freshness(NOW, NOW, stale_minutes=60, known=False)
    assert unknown.is_stale
    assert UNKNOWN_AS_OF_MESSAGE in unknown.age_text
    assert Freshness(NOW, NOW, stale_minutes=60).is_stale is False


def test_status_json_says_not_known_and_keeps_its_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "import", str(_timeless_extract(tmp_path / "x"))]) == 0
    out = capsys.readouterr().out
    assert "not known" in out and "--as-of" in out and "(fresh" not in out
    status = _status(capsys)
    assert status["data_as_of"] is None
    assert status["data_as_of_known"] is False
    assert status["as_of_source"] == "unknown"
    assert status["data_as_of_source"] == "import time"  # the existing key stays
    assert status["stale"] is True and status["age_minutes"] is None
    assert status["imported_at"] is not None
    assert UNKNOWN_AS_OF_MESSAGE in status["problems"]  # type: ignore[operator]
    capsys.readouterr()
    assert main(["cache", "status"]) == 0
    text = capsys.readouterr().out
    assert "NOT KNOWN" in text and "STALE" in text and "(fresh" not in text


@pytest.mark.parametrize("args, source", [
    (["--as-of", "2026-11-24T06:00:00+00:00"], "--as-of option"),
    ([], "client-log"),
])
def test_as_of_source_names_where_the_time_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], source: str
) -> None:
    folder = tmp_path / "synthea"
    shutil.copytree(SYNTHEA, folder)
    assert main(["cache", "import", str(folder), *args]) == 0
    status = _status(capsys)
    assert status["as_of_source"] == source and status["data_as_of_known"] is True


def test_every_internal_source_has_a_public_name() -> None:
    assert [public_as_of_source(s) for s in (
        "option", "bundle.timestamp", "manifest.transactionTime", "log.ndjson transactionTime",
        "meta.lastUpdated", "drop marker time", "import time", "")] == [
        "--as-of option", "bundle-meta", "manifest-transactionTime", "client-log",
        "resource-lastUpdated", "drop-marker", "unknown", "unknown"]


def test_banner_and_page_line_say_the_age_is_unknown(
    data_dir: Path, make_sample_snapshot, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    snapshot = dataclasses.replace(make_sample_snapshot(), data_as_of=datetime.now(UTC),
                                   as_of_source="import time")
    with CacheStore.open(data_dir, "test-key-not-secret") as store:
        store.replace_snapshot(snapshot)
        status = store.status(stale_minutes=60)
    assert status.freshness is not None and status.is_stale
    banner = cache_banner(status)
    assert banner.level is CacheLevel.STALE
    assert "DATA AGE UNKNOWN" in banner.headline and "ago" not in banner.headline
    page = stale_text(status.freshness, 60)
    assert page.startswith("STALE DATA:") and "not known" in page and "old (" not in page


def test_a_known_time_replaces_an_unknown_one_however_old(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "import", str(_timeless_extract(tmp_path / "x"))]) == 0
    drops = tmp_path / "drops"
    shutil.copytree(SYNTHEA, drops / "export-10")
    assert main(["cache", "refresh", "--from", str(drops)]) == 0
    status = _status(capsys)
    assert status["as_of_source"] == "client-log"
    assert status["data_as_of"] == "2024-08-06T18:12:57+00:00"


def test_a_printed_page_says_not_known_and_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pypdf import PdfReader

    assert main(["cache", "import", str(_timeless_extract(tmp_path / "x"))]) == 0
    out = tmp_path / "p.pdf"
    assert main(["print", "--patient", "9990000018", "--forms", "news2", "--out", str(out)]) == 0
    text = " ".join((page.extract_text() or "") for page in PdfReader(out).pages)
    assert "Data as of: NOT KNOWN (imported" in text
    assert "STALE DATA" in text and "not known" in text
