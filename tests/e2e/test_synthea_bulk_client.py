"""The SMART bulk-data-client's folder, as the client writes it, imports as dropped.

Real outside data: tests/fixtures/synthea-bulk-10 is the SMART sample Bulk Data export of
10 Synthea patients (Apache-2.0, see its LICENSE and README.md) exactly as the client left
it: NDJSON per type and the client's ``log.ndjson``, no ``manifest.json``. Its
``status_complete`` event carries the export's transactionTime, 2024-08-06T18:12:57Z, which
must become the data-as-of (and, two years on, the cache must say stale, never fresh).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from paperfallback.cli.main import main

SYNTHEA = Path(__file__).parent.parent / "fixtures" / "synthea-bulk-10"
TRANSACTION_TIME = "2024-08-06T18:12:57+00:00"


def _status(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    main(["cache", "status", "--json"])
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def _copy(target: Path) -> Path:
    shutil.copytree(SYNTHEA, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def test_fixture_is_the_client_folder_with_its_licence() -> None:
    names = {p.name for p in SYNTHEA.iterdir()}
    assert {"log.ndjson", "LICENSE", "Patient.000.ndjson"} <= names
    assert "manifest.json" not in names
    size = sum(p.stat().st_size for p in SYNTHEA.iterdir())
    assert size < 12_000_000  # kept small enough for the repository


def test_cache_import_of_the_client_folder_takes_the_log_transaction_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _copy(tmp_path / "synthea")
    assert main(["cache", "import", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "file log.ndjson" not in out  # recognised, not skipped as an unknown file
    assert "log.ndjson transactionTime" in out  # and named as the time's source
    status = _status(capsys)
    assert status["data_as_of"] == TRANSACTION_TIME
    assert status["stale"] is True
    assert status["counts"]["patients"] == 13  # type: ignore[index]
    assert status["counts"]["deceased"] == 3  # type: ignore[index]  # deceasedDateTime
    assert status["as_of_source"] == "client-log"


def test_synthea_patients_have_mr_hospital_numbers_and_print_by_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "import", str(_copy(tmp_path / "synthea"))]) == 0
    capsys.readouterr()
    assert main(["patients", "--search", "", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(row["hospital_number"] and row["nhs_number"] is None for row in rows)
    out = tmp_path / "p.pdf"
    assert main(["print", "--patient", rows[0]["hospital_number"], "--forms", "news2",
                 "--out", str(out)]) == 0
    assert "STALE DATA" in capsys.readouterr().out  # 2024 data, printed in 2026


def test_drop_folder_refresh_of_the_client_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drops = tmp_path / "drops"
    _copy(drops / "export-10")
    assert main(["cache", "refresh", "--from", str(drops), "--force"]) == 0
    status = _status(capsys)
    assert status["data_as_of"] == TRANSACTION_TIME
    assert status["last_refresh_failed"] is False


def test_a_client_folder_still_being_written_is_not_a_complete_drop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drops = tmp_path / "drops"
    folder = _copy(drops / "export-10")
    log = folder / "log.ndjson"
    lines = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")  # no export_complete yet
    assert main(["cache", "refresh", "--from", str(drops)]) == 1
    assert "1 still being written" in capsys.readouterr().err
    assert main(["cache", "import", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "log.ndjson" in err and "did not complete" in err
