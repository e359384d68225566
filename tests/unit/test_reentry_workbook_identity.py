"""R-ENT-4: a workbook row is imported only into the form of the patient it names; and
identity text that looks like a formula (a name starting with =, +, - or @) stays text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from paperfallback.formspec import load_catalogue
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workbook import build_workbook
from paperfallback.reentry.workbook_import import (
    ImportResult,
    import_workbook,
    mismatch_reason,
)
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
FORMS = load_catalogue()
NEWS2 = FORMS.get("news2")
EVIL = "=Evil, Ŷwain"  # synthetic


def _issue(record_issued: Callable[..., list[IssuedForm]], patient_id: str, nhs: str,
           name: str, hospital: str) -> IssuedForm:
    (item,) = record_issued("news2", 1, patient_id=patient_id, nhs_number=nhs,
                            hospital_number=hospital, patient_name=name, ward_code="W1",
                            blank_columns=8, printed_at=datetime.now(UTC) - timedelta(hours=3))
    return item


def _import(data_dir: Path, path: Path) -> tuple[ImportResult, dict[str, int]]:
    conn = WorkStore.open(data_dir, KEY)
    register = Register(conn, pc_code="T1")
    store = EntriesStore(conn)
    try:
        result = import_workbook(path, catalogue=FORMS, lookup=register.get, store=store,
                                 clerk="Ann")
        counts = {i.instance_id: len(store.entries(i.instance_id)) for i in register.list()}
        return result, counts
    finally:
        conn.close()


def _column() -> dict[str, Any]:
    when = (datetime.now(UTC) - timedelta(hours=2)).strftime("%d/%m/%Y %H:%M")
    return {"obs_time": when, "resp_rate": 16, "spo2": 97, "oxygen": "A", "sbp": 124,
            "pulse": 72, "acvpu": "A", "temp": 36.8, "news2_total": 0, "initials": "AB"}


def _fill(path: Path, row: int, values: dict[str, Any]) -> None:
    wb = load_workbook(path)
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    for field_id, value in values.items():
        ws.cell(row=row, column=header.index(field_id) + 1, value=value)
    wb.save(path)


def test_row_moved_to_another_patients_form_is_refused(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    first = _issue(record_issued, "p1", "9434765919", "JONES, Ŵyn", "RM123456")
    other = _issue(record_issued, "p2", "9990000026", "ÖZTÜRK, Emre", "RM654321")
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [first, other], out)
    # Row 3 is JONES's first time column; the form ID is edited to ÖZTÜRK's form while
    # the NHS number, hospital number and name still name JONES.
    _fill(out, 3, {**_column(), "form_instance_id": other.instance_id})
    result, counts = _import(data_dir, out)
    reason = (f"this row's patient does not match form {other.instance_id}: keyed values "
              "were not imported")
    columns = {p.column for p in result.problems if p.reason == reason}
    assert columns == {"nhs_number", "hospital_number", "patient_name"}
    assert all(p.sheet == "news2" and p.row == 3 for p in result.problems)
    assert {p.value for p in result.problems} >= {"943 476 5919", "JONES, Ŵyn"}
    assert result.rows_imported == 0 and result.rows_skipped == 1
    assert counts == {first.instance_id: 0, other.instance_id: 0}


def test_row_with_identity_cleared_is_refused(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    first = _issue(record_issued, "p1", "9434765919", "JONES, Ŵyn", "RM123456")
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [first], out)
    _fill(out, 3, {**_column(), "nhs_number": "", "patient_name": "SMITH, Jo"})
    result, counts = _import(data_dir, out)
    assert {p.column for p in result.problems} == {"nhs_number", "patient_name"}
    assert counts == {first.instance_id: 0}


def test_identity_sheet_is_password_protected(
    tmp_path: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    first = _issue(record_issued, "p1", "9434765919", "JONES, Ŵyn", "RM123456")
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [first], out)
    wb = load_workbook(out)
    assert wb["news2"].protection.sheet and wb["news2"].protection.password
    text = " ".join(str(c.value) for (c,) in wb["Instructions"].iter_rows(max_col=1) if c.value)
    assert "not a security control" in text


def test_name_starting_with_equals_is_text_not_formula(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    evil = _issue(record_issued, "p1", "9434765919", EVIL, "+RM1")
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [evil], out)
    ws = load_workbook(out)["news2"]
    assert ws["D3"].value == EVIL and ws["D3"].data_type == "s"
    assert ws["C3"].value == "+RM1" and ws["C3"].data_type == "s"
    _fill(out, 3, _column())
    result, counts = _import(data_dir, out)
    assert result.ok, [str(p) for p in result.problems]
    assert result.rows_imported == 1 and counts[evil.instance_id] == 10


def test_identity_formula_from_an_older_workbook_is_compared_as_text(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    evil = _issue(record_issued, "p1", "9434765919", EVIL, "RM123456")
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, [evil], out)
    _fill(out, 3, {**_column(), "patient_name": EVIL})  # openpyxl stores it as a formula
    assert load_workbook(out)["news2"]["D3"].data_type == "f"
    result, counts = _import(data_dir, out)
    assert result.ok, [str(p) for p in result.problems]
    assert counts[evil.instance_id] == 10


def test_list_form_patient_named_like_a_formula_from_the_cache(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]],
    make_sample_snapshot: Callable[[], Any],
) -> None:
    """A clinic list's row patient comes from the cache: '=Evil' stays text there too,
    and a row moved onto another patient's line is refused."""
    from dataclasses import replace

    from paperfallback.cache.store import CacheStore

    snapshot = make_sample_snapshot()
    patients = tuple(replace(p, family="=Evil") if p.id == "p2" else p
                     for p in snapshot.patients)
    snapshot = replace(snapshot, patients=patients)
    with CacheStore.open(data_dir, KEY) as cache:
        cache.replace_snapshot(snapshot)
    day = snapshot.data_as_of.date()
    (clinic,) = record_issued("clinic-list", 1, scope="clinic-day", clinic="Fracture clinic",
                              session_date=day, rows=("appointments:ap1", "appointments:ap2"),
                              printed_at=datetime.now(UTC) - timedelta(hours=3))
    out = tmp_path / "clinic.xlsx"
    form = FORMS.get("clinic-list")
    with CacheStore.open(data_dir, KEY) as cache:
        build_workbook(form, [clinic], out, cache=cache)
    wb = load_workbook(out)
    ws = wb[wb.sheetnames[1]]
    header = [c.value for c in ws[1]]
    name = ws.cell(row=3, column=header.index("patient_name") + 1)
    assert name.value == "=EVIL, Łukasz" and name.data_type == "s"
    outcome = header.index("cl_outcome") + 1
    ws.cell(row=3, column=outcome, value="ATT")
    ws.cell(row=4, column=outcome, value="DNA")
    # Row 4 (Gwenllïan's line) is given row 3's patient: it no longer matches the register.
    for column in ("nhs_number", "hospital_number", "patient_name"):
        i = header.index(column) + 1
        ws.cell(row=4, column=i, value=ws.cell(row=3, column=i).value)
    ws.cell(row=4, column=header.index("patient_name") + 1).data_type = "s"
    wb.save(out)
    conn = WorkStore.open(data_dir, KEY)
    try:
        with CacheStore.open(data_dir, KEY) as cache:
            result = import_workbook(out, catalogue=FORMS,
                                     lookup=Register(conn, pc_code="T1").get,
                                     store=EntriesStore(conn), clerk="Ann", cache=cache)
    finally:
        conn.close()
    assert result.rows_imported == 1  # the =EVIL row, compared as text
    assert {(p.row, p.column) for p in result.problems} == {
        (4, "hospital_number"), (4, "patient_name")}  # row 3 had no NHS number to copy
    assert all(p.reason == mismatch_reason(clinic.instance_id) for p in result.problems)
