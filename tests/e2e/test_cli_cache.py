"""``paperfallback cache import`` and ``patients`` end to end through the real CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from paperfallback.cli.main import main
from paperfallback.domain.nhs_number import check_digit


def _nhs(n: int) -> str:
    while True:
        first = f"999{n:06d}"
        digit = check_digit(first)
        if digit is not None:
            return first + str(digit)
        n += 1


def _extract(folder: Path, patients: int, *, broken_line: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for n in range(patients):
        lines.append(json.dumps({
            "resourceType": "Patient", "id": f"p{n}",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
                            "value": _nhs(n * 37)}],
            "name": [{"family": f"Gŵyn{n}", "given": ["Ela"]}]}, ensure_ascii=False))
    if broken_line is not None:
        lines[broken_line - 1] = lines[broken_line - 1].replace(
            _nhs((broken_line - 1) * 37), "9990000027")
    (folder / "Patient.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _status(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["cache", "status", "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_failed_import_keeps_the_previous_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _extract(tmp_path / "good", 10)
    assert main(["cache", "import", str(good), "--as-of", "2026-03-02T10:00"]) == 0
    bad = _extract(tmp_path / "bad", 10, broken_line=4)
    capsys.readouterr()
    assert main(["cache", "import", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"paperfallback: error: {bad / 'Patient.ndjson'}:4: ")
    assert "NHS number" in err[0]
    status = _status(capsys)
    assert status["counts"]["patients"] == 10  # type: ignore[index]
    assert status["data_as_of"] == "2026-03-02T10:00:00+00:00"
    assert status["last_refresh_failed"] is True
    assert main(["patients", "--search", "Gwyn3", "--json"]) == 0
    assert [p["family"] for p in json.loads(capsys.readouterr().out)] == ["Gŵyn3"]


def test_partial_extract_refused_without_force_accepted_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "import", str(_extract(tmp_path / "full", 10))]) == 0
    small = _extract(tmp_path / "small", 4)
    capsys.readouterr()
    assert main(["cache", "import", str(small)]) == 1
    assert "looks partial" in capsys.readouterr().err
    assert _status(capsys)["counts"]["patients"] == 10  # type: ignore[index]
    assert main(["cache", "import", str(small), "--force"]) == 0
    assert _status(capsys)["counts"]["patients"] == 4  # type: ignore[index]


def test_import_reports_skipped_files_and_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _extract(tmp_path / "x", 2)
    (folder / "README.txt").write_text("exported by the EPR")
    (folder / "CarePlan.ndjson").write_text('{"resourceType": "CarePlan", "id": "c"}\n')
    capsys.readouterr()
    assert main(["cache", "import", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Skipped 1 CarePlan resources (type not used)" in out
    assert "Skipped 1 file README.txt (not an extract file)" in out
    assert "not known" in out and "--as-of" in out  # no time of its own: flagged


def test_manifest_mismatch_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _extract(tmp_path / "bulk", 3)
    (folder / "manifest.json").write_text(json.dumps({
        "transactionTime": "2026-03-02T10:00:00Z",
        "output": [{"type": "Patient", "url": "https://x.example/Patient.ndjson"},
                   {"type": "Flag", "url": "https://x.example/Flag.ndjson"}]}))
    assert main(["cache", "import", str(folder)]) == 1
    assert "Flag.ndjson" in capsys.readouterr().err


@pytest.mark.parametrize("ward", ["W3", "w3", "WARD 3 — DEWI SANT"])
def test_patients_json_contract(
    demo_data_dir: Path, ward: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["patients", "--ward", ward, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert 20 <= len(rows) <= 30
    for row in rows:
        assert row["nhs_number"] is None or re.fullmatch(r"\d{10}", row["nhs_number"])
        assert row["hospital_number"] and row["family"] and row["given"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["birth_date"])
        assert row["sex"] in ("male", "female", "other", "unknown")
        assert row["ward"] == "Ward 3 — Dewi Sant" and row["bed"]


def test_demo_command_builds_a_fresh_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seed", "3"]) == 0
    status = _status(capsys)
    assert status["stale"] is False
    assert status["data_as_of_source"] == "manifest.transactionTime"
    assert status["counts"]["wards"] >= 3  # type: ignore[index]
