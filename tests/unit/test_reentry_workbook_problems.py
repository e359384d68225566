"""Keying workbooks never lose what a clerk typed without saying so: formulas, error
cells, stray columns and sheets, duplicate rows and empty required fields are problems;
a second keying by the first clerk is refused before anything is saved; list rows and
blank copies say (or let the clerk key) whose row it is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.model import EntryPass, InstanceStatus
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workbook import build_workbook
from paperfallback.reentry.workbook_import import (
    ERROR_REASON,
    FORMULA_REASON,
    ImportResult,
    import_workbook,
)
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
FORMS = load_catalogue()
NEWS2 = FORMS.get("news2")


def _printed(record_issued: Callable[..., list[IssuedForm]], count: int = 1) -> list[IssuedForm]:
    return record_issued("news2", count, patient_id="p1", nhs_number="9434765919",
                         hospital_number="RM123456", patient_name="JONES, Ŵyn",
                         ward_code="W1", blank_columns=8,
                         printed_at=datetime.now(UTC) - timedelta(hours=3))


def _import(data_dir: Path, path: Path, clerk: str = "Ann", *,
            entry_pass: EntryPass = EntryPass.FIRST, cache: CacheStore | None = None,
            ) -> ImportResult:
    conn = WorkStore.open(data_dir, KEY)
    try:
        return import_workbook(path, catalogue=FORMS, lookup=Register(conn, pc_code="T1").get,
                               store=EntriesStore(conn), clerk=clerk, entry_pass=entry_pass,
                               double_entry_forms=("news2",), cache=cache)
    finally:
        conn.close()


def _fill(path: Path, sheet: str, rows: dict[int, dict[str, Any]]) -> None:
    wb = load_workbook(path)
    ws = wb[sheet]
    header = [c.value for c in ws[1]]
    for row, values in rows.items():
        for field_id, value in values.items():
            column = header.index(field_id) + 1 if isinstance(field_id, str) and \
                field_id in header else int(field_id)
            ws.cell(row=row, column=column, value=value)
    wb.save(path)


def _when(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).strftime("%d/%m/%Y %H:%M")


GOOD = {"resp_rate": 18, "spo2": 96, "oxygen": "A", "sbp": 124, "pulse": 72, "acvpu": "A",
        "temp": 36.8, "news2_total": 0, "initials": "AW"}


def _entries(data_dir: Path, instance_id: str) -> dict[str, str | None]:
    with EntriesStore.open(data_dir, KEY) as store:
        return {e.address.field_id: e.value for e in store.entries(instance_id)}


@pytest.mark.parametrize(("cell", "reason"), [
    ('=HYPERLINK("http://example.invalid","96")', FORMULA_REASON),
    ("=1+1", FORMULA_REASON),
    ("#DIV/0!", ERROR_REASON),
])
def test_formula_and_error_cells_are_problems_and_the_row_is_not_imported(
    cell: str, reason: str, tmp_path: Path, data_dir: Path,
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = _printed(record_issued)
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [issued], out)
    _fill(out, "news2", {3: {**GOOD, "obs_time": _when(2), "spo2": cell},
                         4: {**GOOD, "obs_time": _when(1)}})
    result = _import(data_dir, out)
    assert not result.ok and result.rows_imported == 1 and result.rows_skipped == 1
    (problem,) = result.problems
    assert (problem.sheet, problem.row, problem.column) == ("news2", 3, "spo2")
    assert problem.value == cell[:80] and problem.reason == reason
    with EntriesStore.open(data_dir, KEY) as store:
        assert {e.address.index for e in store.entries(issued.instance_id)} == {1}


def test_rich_text_is_read_whole(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = _printed(record_issued)
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [issued], out)
    wb = load_workbook(out, rich_text=True)
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    for field_id, value in {**GOOD, "obs_time": _when(2)}.items():
        ws.cell(row=3, column=header.index(field_id) + 1, value=value)
    ws.cell(row=3, column=header.index("initials") + 1,
            value=CellRichText(["A", TextBlock(InlineFont(b=True), "W")]))
    wb.save(out)
    assert _import(data_dir, out).ok
    assert _entries(data_dir, issued.instance_id)["initials"] == "AW"


def test_a_value_in_a_column_without_a_field_id_is_a_problem(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = _printed(record_issued)
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [issued], out)
    wb = load_workbook(out)
    extra_column = wb["news2"].max_column + 2
    wb["news2"].cell(row=1, column=extra_column - 1, value="spo2_typo")
    wb.save(out)
    _fill(out, "news2", {3: {**GOOD, "obs_time": _when(2), extra_column: "on 2 L"},
                         4: {**GOOD, "obs_time": _when(1), extra_column - 1: "97"}})
    result = _import(data_dir, out)
    assert result.rows_imported == 0 and result.rows_skipped == 2
    assert [(p.row, p.column.split(" ")[0]) for p in result.problems] == [
        (3, "column"), (4, "column")]
    assert "no field id" in result.problems[0].reason
    assert "'spo2_typo'" in result.problems[1].column


def test_data_on_a_foreign_sheet_and_a_row_keyed_twice_are_problems(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = _printed(record_issued)
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [issued], out)
    wb = load_workbook(out)
    wb.create_sheet("Sheet1")["B2"] = "pulse 88 at 14:00"
    ws = wb["news2"]
    ws.protection.sheet = False
    for column in range(1, 6):  # a copy of row 3's identity (the same paper column)
        ws.cell(row=11, column=column, value=ws.cell(row=3, column=column).value)
    wb.save(out)
    _fill(out, "news2", {3: {**GOOD, "obs_time": _when(2)},
                         11: {**GOOD, "obs_time": _when(2), "pulse": 90}})
    result = _import(data_dir, out)
    where = [(p.sheet, p.row, p.column) for p in result.problems]
    assert ("Sheet1", 2, "column B") in where
    assert ("news2", 11, "chart_column") in where
    assert _entries(data_dir, issued.instance_id)["pulse"] == "72"


def test_empty_required_fields_on_a_row_with_writing_are_problems(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = _printed(record_issued)
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [issued], out)
    _fill(out, "news2", {3: {"obs_time": _when(2), "pulse": 80},
                         4: {**GOOD, "obs_time": _when(1), "spo2": "-"}})
    result = _import(data_dir, out)
    missing = sorted(p.column for p in result.problems)
    required = {f.id for f in NEWS2.sections[0].all_fields() if f.required}
    assert missing == sorted(required - {"obs_time", "pulse"}) and "spo2" in missing
    assert all(p.row == 3 and "required" in p.reason for p in result.problems)
    assert result.rows_imported == 1  # '-' (not recorded) satisfies a required field


def test_second_pass_by_the_first_clerk_is_refused_before_anything_is_saved(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    (issued,) = _printed(record_issued)
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [issued], out)
    _fill(out, "news2", {3: {**GOOD, "obs_time": _when(2)}})
    assert _import(data_dir, out, "Ann").ok
    with EntriesStore.open(data_dir, KEY) as store:
        before = len(store.audit(issued.instance_id))
    with pytest.raises(InputError, match=r"Ann keyed the first pass .* nothing was imported"):
        _import(data_dir, out, "ann", entry_pass=EntryPass.SECOND)
    with EntriesStore.open(data_dir, KEY) as store:
        assert store.entries(issued.instance_id, EntryPass.SECOND) == []
        assert len(store.audit(issued.instance_id)) == before
    second = _import(data_dir, out, "Bob", entry_pass=EntryPass.SECOND)
    assert second.ok and second.rows_imported == 1
    with EntriesStore.open(data_dir, KEY) as store:
        record = store.instance(issued.instance_id)
        assert record is not None and record.status is InstanceStatus.VERIFIED


def test_keying_session_refuses_the_first_clerk_in_the_second_pass(
    data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    from paperfallback.reentry.printed import issued_layout
    from paperfallback.reentry.session import KeyingSession

    (issued,) = _printed(record_issued)
    with EntriesStore.open(data_dir, KEY) as store:
        layout = issued_layout(NEWS2, issued)
        KeyingSession(store, layout, issued, clerk="Ann").enter(
            "observations", 0, "pulse", "80")
        with pytest.raises(InputError, match="blind by another clerk"):
            KeyingSession(store, layout, issued, clerk="Ann", entry_pass=EntryPass.SECOND)
        assert store.entries(issued.instance_id, EntryPass.SECOND) == []


# ---- whose row it is ----------------------------------------------------------------------


def test_clinic_and_theatre_workbooks_show_whose_row_it_is(
    tmp_path: Path, sample_data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    day = date(2026, 1, 5)
    clinic = record_issued("clinic-list", scope="clinic-day", clinic="Fracture clinic",
                           session_date=day, rows=("appointments:ap1", "appointments:ap2"))
    theatre = record_issued("theatre-list", scope="theatre-day", theatre="Theatre 2",
                            session_date=day, rows=("cases:tc1",))
    with CacheStore.open(sample_data_dir, KEY) as cache:
        build_workbook(FORMS.get("clinic-list"), clinic, tmp_path / "c.xlsx", cache=cache)
        build_workbook(FORMS.get("theatre-list"), theatre, tmp_path / "t.xlsx", cache=cache)
    ws = load_workbook(tmp_path / "c.xlsx")["clinic-list"]
    rows = [[c.value for c in row][:7] for row in ws.iter_rows(min_row=3, max_row=6)]
    assert rows[0][1:4] == [None, "RM100002", "WÓJCIK, Łukasz"]
    assert rows[1][1:4] == ["999 100 0976", "RM100001", "LLŶR-PRITCHARD, Gwenllïan"]
    assert rows[0][4:6] == [1, "09:30 WÓJCIK, Łukasz"]
    assert rows[2][1:4] == [None, None, None]
    assert rows[2][5] == "blank row (written in by hand)"
    assert ws["B3"].protection.locked
    ws = load_workbook(tmp_path / "t.xlsx")["theatre-list"]
    assert ws["D3"].value.startswith("LLEWELLYN-AP-RHYS") and ws["B3"].value == "999 100 2928"
    assert ws["F3"].value == "1. Hemiarthroplasty, left hip"


def test_blank_copy_identification_is_keyed_checked_and_matched(
    tmp_path: Path, sample_data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    blanks = record_issued("news2", 3, blank_columns=8, downtime_number=None,
                           printed_at=datetime.now(UTC) - timedelta(hours=3))
    out = tmp_path / "blank.xlsx"
    build_workbook(NEWS2, blanks, out)
    wb = load_workbook(out)
    assert wb.sheetnames[:3] == ["Instructions", "news2.patient", "news2"]
    ws = wb["news2.patient"]
    assert [c.value for c in ws[1]] == ["form_instance_id", "downtime_number", "nhs_number",
                                        "hospital_number", "family", "given", "birth_date"]
    assert not ws["C3"].protection.locked and ws["A3"].protection.locked
    _fill(out, "news2.patient", {
        3: {"nhs_number": "999 100 0976"},  # Gwenllïan Llŷr-Pritchard in the cache
        4: {"nhs_number": "999 100 0977"},  # wrong check digit
    })
    _fill(out, "news2", {r: {**GOOD, "obs_time": _when(2)} for r in (3, 11, 19)})
    with CacheStore.open(sample_data_dir, KEY) as cache:
        result = _import(sample_data_dir, out, cache=cache)
    problems = {(p.sheet, p.row, p.column): p.reason for p in result.problems}
    assert "check digit" in problems[("news2.patient", 4, "nhs_number")].casefold() or \
        "not a valid" in problems[("news2.patient", 4, "nhs_number")]
    # The third copy has observations but nobody identified: reported where the
    # identification belongs, and the form stays draft.
    assert "blank copy" in problems[("news2.patient", 5, "form_instance_id")]
    assert len(problems) == 2  # an NHS number alone identifies (no name needed)
    with EntriesStore.open(sample_data_dir, KEY) as store:
        first = store.instance(blanks[0].instance_id)
        third = store.instance(blanks[2].instance_id)
        assert first is not None and first.patient_id == "p1"
        assert first.patient_match == "nhs_number" and first.first_done
        assert third is not None and not third.first_done


def test_downtime_registration_keyed_in_a_workbook_records_a_downtime_patient(
    tmp_path: Path, sample_data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    from paperfallback.register import format_downtime_number

    number = format_downtime_number("T1", 1)
    (form,) = record_issued("downtime-registration", scope="blank", downtime_number=number)
    spec = FORMS.get("downtime-registration")
    out = tmp_path / "dt.xlsx"
    build_workbook(spec, [form], out)
    identity = next(n for n in load_workbook(out).sheetnames if n.endswith(".identity"))
    _fill(out, identity, {3: {"dt_family": "Ó Súilleabháin", "dt_given": "Siobhán",
                              "dt_birth_date": "02/03/1961", "dt_nhs_number": "999 100 0977"}})
    with CacheStore.open(sample_data_dir, KEY) as cache:
        bad = _import(sample_data_dir, out, cache=cache)
    assert [p.column for p in bad.problems] == ["dt_nhs_number"]  # wrong check digit
    _fill(out, identity, {3: {"dt_nhs_number": ""}})  # not written after all
    with CacheStore.open(sample_data_dir, KEY) as cache:
        good = _import(sample_data_dir, out, cache=cache)
    assert good.ok, good.problems
    with EntriesStore.open(sample_data_dir, KEY) as store:
        (person,) = store.downtime_patients()
        record = store.instance(form.instance_id)
    assert (person.downtime_number, person.family, person.birth_date) == (
        number, "Ó Súilleabháin", "1961-03-02")
    assert record is not None and record.patient_match == f"downtime:{number}"
