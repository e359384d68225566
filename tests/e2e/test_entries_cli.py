"""``paperfallback entries workbook|import|status`` end to end through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from paperfallback.cli.main import main
from paperfallback.register import IssuedForm


def _fill(path: Path, rows: dict[int, dict[str, Any]]) -> None:
    wb = load_workbook(path)
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    for row, values in rows.items():
        for field_id, value in values.items():
            ws.cell(row=row, column=header.index(field_id) + 1, value=value)
    wb.save(path)


def test_workbook_import_status(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    printed = datetime.now(UTC) - timedelta(hours=4)
    issued = record_issued("news2", 2, patient_id="p1", patient_name="ÖZTÜRK, Emre",
                           nhs_number="9990000026", ward_code="AN", printed_at=printed)
    record_issued("mar", 1, patient_id="p1", ward_code="AN", printed_at=printed)
    record_issued("pack-cover", 1, scope="ward", ward_code="AN", printed_at=printed)
    out = tmp_path / "batch.xlsx"
    assert main(["entries", "workbook", "--form", "news2", "--ward", "an",
                 "--out", str(out)]) == 0
    assert "2 form(s), 16 row(s)" in capsys.readouterr().out
    when = (datetime.now(UTC) - timedelta(hours=2)).strftime("%d/%m/%Y %H:%M")
    column = {"obs_time": when, "resp_rate": 26, "spo2": 91, "oxygen": "O2", "sbp": 100,
              "pulse": 120, "acvpu": "A", "temp": 38.6, "news2_total": 6, "initials": "EÖ"}
    _fill(out, {3: column, 11: {**column, "temp": "hot"}})
    assert main(["entries", "import", str(out), "--clerk", "Siân"]) == 1
    captured = capsys.readouterr()
    assert "news2 / row 11 / temp: value 'hot'" in captured.err
    assert "Imported 1 row(s)" in captured.out
    assert "NEWS2 total written as 6" in captured.out  # computed 3+3+2+2+2+0+1 = 13
    _fill(out, {11: {"temp": 37.0}})
    assert main(["entries", "import", str(out), "--clerk", "Siân"]) == 0
    capsys.readouterr()
    assert main(["entries", "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    statuses = {i["instance_id"]: i["status"] for i in report["instances"]}
    assert statuses[issued[0].instance_id] == "keyed"
    assert report["not_returned"] and len(report["not_returned"]) == 1  # the MAR, not the cover
    kinds = {(d["instance_id"], d["kind"]) for d in report["discrepancies"]}
    assert (issued[0].instance_id, "news2_total") in kinds
    assert report["backlog"]["total"] == 3 and report["backlog"]["done"] == 2
    assert main(["entries", "status"]) == 0
    text = capsys.readouterr().out
    assert "Open discrepancies" in text and "Not come back yet (1)" in text


def test_bad_files_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"PK\x03\x04 broken")
    assert main(["entries", "import", str(bad), "--clerk", "A"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a readable .xlsx" in err
    assert main(["entries", "workbook", "--form", "news2", "--out", str(tmp_path / "o.xlsx")]) == 1
    assert "no printed 'news2' forms" in capsys.readouterr().err


def test_second_pass_by_the_same_clerk_is_one_line_and_saves_nothing(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    from paperfallback.reentry.model import EntryPass
    from paperfallback.reentry.store import EntriesStore

    printed = datetime.now(UTC) - timedelta(hours=4)
    (issued,) = record_issued("news2", patient_id="p1", nhs_number="9990000026",
                              ward_code="AN", printed_at=printed)
    out = tmp_path / "batch.xlsx"
    assert main(["entries", "workbook", "--form", "news2", "--out", str(out)]) == 0
    when = (datetime.now(UTC) - timedelta(hours=2)).strftime("%d/%m/%Y %H:%M")
    _fill(out, {3: {"obs_time": when, "resp_rate": 16, "spo2": 97, "oxygen": "A", "sbp": 120,
                    "pulse": 70, "acvpu": "A", "temp": 36.9, "news2_total": 0,
                    "initials": "SJ"}})
    assert main(["entries", "import", str(out), "--clerk", "Siân"]) == 0
    capsys.readouterr()
    assert main(["entries", "import", str(out), "--clerk", "Siân", "--pass", "second"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Siân keyed the first pass" in err
    assert "nothing was imported" in err
    with EntriesStore.open(data_dir, "test-key-not-secret") as store:
        assert store.entries(issued.instance_id, EntryPass.SECOND) == []
