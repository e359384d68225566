"""xlsx and CSV exports: one row per value, ISO dates, NHS number as text, no formulas."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from paperfallback.export.neutralise import needs_neutralising, neutralise
from paperfallback.export.samples import (
    keyed_form,
    keyed_row,
    news2_column,
    news2_form,
    synthetic_patient,
)
from paperfallback.export.tabular import (
    COLUMNS,
    plan_tabular_export,
    write_csv,
    write_xlsx,
)

KEYED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
EVIL = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd",
        "  =1+1", "=cmd|' /C calc'!A0"]


@pytest.mark.parametrize("text", EVIL)
def test_formula_starts_are_neutralised(text: str) -> None:
    assert needs_neutralising(text)
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["Llŷr", "-250", "+3.5", "96", "", "Jones-Evans", "a=b"])
def test_ordinary_text_and_numbers_are_left_alone(text: str) -> None:
    assert neutralise(text) == text


def _forms() -> list:
    patient = synthetic_patient(2)
    evil = keyed_form("continuation", "CO56-0001", [
        keyed_row("notes", 0, {"note_text": EVIL[0], "note_by": "@admin"}),
    ], patient=patient.__class__(nhs_number=patient.nhs_number, family="=cmd|' /C calc'!A0",
                                 given="Siân"))
    chart = news2_form("NW56-0001", patient, [
        news2_column(0, datetime(2026, 11, 20, 10, 5), KEYED, resp_rate="26", handwritten="1"),
    ])
    return [evil, chart]


def test_xlsx_has_a_sheet_per_form_and_inert_cells(tmp_path: Path) -> None:
    export = plan_tabular_export(_forms(), {}, all_entries=False)
    path = write_xlsx(export, tmp_path / "export.xlsx")
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["continuation", "news2"]
    sheet = workbook["continuation"]
    header = [c.value for c in sheet[1]]
    assert tuple(header) == COLUMNS
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type == "s" or cell.value is None
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "+", "@", "\t", "\r"))
    rows = [dict(zip(header, (c.value for c in r), strict=True))
            for r in sheet.iter_rows(min_row=2)]
    note = next(r for r in rows if r["field_id"] == "note_text")
    assert note["value"] == "'" + EVIL[0]
    assert note["patient_name"].startswith("'=CMD")
    assert note["nhs_number"] == synthetic_patient(2).nhs_number  # text, not a number


def test_news2_rows_carry_codes_times_and_the_computed_total(tmp_path: Path) -> None:
    export = plan_tabular_export(_forms(), {}, all_entries=False)
    written = write_csv(export, tmp_path / "csv")
    assert sorted(p.name for p in written) == ["continuation.csv", "news2.csv"]
    with (tmp_path / "csv" / "news2.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    resp = next(r for r in rows if r["field_id"] == "resp_rate")
    assert resp["value"] == "26"
    assert resp["effective"] == "2026-11-20T10:05:00+00:00"
    assert resp["keyed_at"] == "2026-11-22T09:00:00+00:00"
    assert resp["printed_at"] == "2026-11-20T08:00:00+00:00"
    assert resp["nhs_number"] == synthetic_patient(2).nhs_number
    computed = next(r for r in rows if r["field_id"] == "news2_total_computed")
    assert computed["value"] == "3"
    assert computed["snomed_code"] == "1104051000000101"
    assert "DIFFERS from the handwritten total 1" in computed["note"]
    handwritten = next(r for r in rows if r["field_id"] == "news2_total")
    assert handwritten["value"] == "1"  # the handwritten total is kept as written


def test_csv_cells_are_neutralised(tmp_path: Path) -> None:
    export = plan_tabular_export(_forms(), {}, all_entries=False)
    write_csv(export, tmp_path / "csv")
    text = (tmp_path / "csv" / "continuation.csv").read_text(encoding="utf-8-sig")
    assert "\"'=HYPERLINK" in text
    assert "\"'@admin\"" in text
    assert ",\"=" not in text and ",\"@" not in text


def test_second_plan_holds_only_changed_rows() -> None:
    first = plan_tabular_export(_forms(), {}, all_entries=False)
    previous = {m.unit_key: m for m in first.marks}
    again = plan_tabular_export(_forms(), previous, all_entries=False)
    assert again.is_empty and again.unchanged_units == len(first.marks)
    everything = plan_tabular_export(_forms(), previous, all_entries=True)
    assert everything.row_count == first.row_count
    assert {r["change"] for rows in everything.sheets.values() for r in rows} == {"repeated"}


def test_a_form_type_longer_than_an_excel_sheet_continues_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import paperfallback.export.tabular_files as tabular_files  # the writer's limit

    monkeypatch.setattr(tabular_files, "XLSX_MAX_ROWS", 5)
    export = plan_tabular_export(_forms(), {}, all_entries=False)
    rows = len(export.sheets["news2"])
    path = write_xlsx(export, tmp_path / "export.xlsx")
    workbook = load_workbook(path)
    parts = [n for n in workbook.sheetnames if n.startswith("news2")]
    assert len(parts) == (rows + 4) // 5
    assert sum(workbook[n].max_row - 1 for n in parts) == rows
