"""Keying workbooks: layout, round trip, bad cells, idempotency, odd files; and a
property test that the importer only ever reports problems, never crashes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from paperfallback.domain.errors import InputError
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.model import InstanceStatus
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workbook import build_workbook
from paperfallback.reentry.workbook_import import ImportResult, import_workbook
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
FORMS = load_catalogue()
NEWS2 = FORMS.get("news2")


def _printed(record_issued: Callable[..., list[IssuedForm]], count: int = 2) -> list[IssuedForm]:
    return record_issued("news2", count, patient_id="p1", nhs_number="9434765919",
                         hospital_number="RM123456", patient_name="JONES, Ŵyn",
                         ward_code="W1", blank_columns=8,
                         printed_at=datetime.now(UTC) - timedelta(hours=3))


def _import(data_dir: Path, path: Path, clerk: str = "Ann") -> ImportResult:
    conn = WorkStore.open(data_dir, KEY)
    register = Register(conn, pc_code="T1")
    store = EntriesStore(conn)
    try:
        return import_workbook(path, catalogue=FORMS, lookup=register.get, store=store,
                               clerk=clerk)
    finally:
        conn.close()


def _fill(path: Path, rows: dict[int, dict[str, Any]]) -> None:
    wb = load_workbook(path)
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    for row, values in rows.items():
        for field_id, value in values.items():
            ws.cell(row=row, column=header.index(field_id) + 1, value=value)
    wb.save(path)


def _time(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).strftime("%d/%m/%Y %H:%M")


def test_workbook_layout(tmp_path: Path, record_issued: Callable[..., list[IssuedForm]]) -> None:
    issued = _printed(record_issued)
    out = tmp_path / "batch.xlsx"
    assert build_workbook(NEWS2, issued, out) == 16
    wb = load_workbook(out)
    assert wb.sheetnames[:2] == ["Instructions", "news2"]
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["form_instance_id", "nhs_number", "hospital_number", "patient_name",
                          "chart_column"]
    assert header[5:] == [f.id for f in NEWS2.fields()[0][0].all_fields()]
    assert ws["G2"].value == "Respiration rate (/min)"
    assert ws["A3"].value == issued[0].instance_id and ws["B3"].value == "943 476 5919"
    assert ws["D3"].value == "JONES, Ŵyn" and ws["E10"].value == 8
    assert ws.protection.sheet and ws["A3"].protection.locked
    assert not ws["F3"].protection.locked
    assert ws.freeze_panes == "F3"
    kinds = {dv.type for dv in ws.data_validations.dataValidation}
    assert {"list", "custom"} <= kinds


def test_round_trip_bad_cells_and_idempotency(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]
) -> None:
    issued = _printed(record_issued)
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, issued, out)
    good = {"obs_time": _time(2), "resp_rate": 18, "spo2": 96, "oxygen": "A", "sbp": 124,
            "pulse": 72, "acvpu": "A", "temp": 36.8, "news2_total": 0, "initials": "AW"}
    when = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None, second=0,
                                                            microsecond=0)
    _fill(out, {
        3: good,
        4: {**good, "obs_time": when, "spo2": "l00"},  # bad cell: the row is not imported
        11: {**good, "acvpu": "?", "news2_total": "-"},  # illegible / not recorded
    })
    result = _import(data_dir, out)
    assert not result.ok and result.rows_imported == 2 and result.rows_skipped == 1
    (problem,) = result.problems
    where = (problem.sheet, problem.row, problem.column, problem.value)
    assert where == ("news2", 4, "spo2", "l00")
    assert "not a number" in problem.reason
    with EntriesStore.open(data_dir, KEY) as store:
        first = {e.address.field_id: e for e in store.entries(issued[0].instance_id)}
        assert first["spo2"].value == "96" and first["spo2"].keyed_by == "Ann"
        assert first["spo2"].source == "workbook"
        record0 = store.instance(issued[0].instance_id)
        record1 = store.instance(issued[1].instance_id)
        assert record0 is not None and record0.status is InstanceStatus.DRAFT  # had a problem
        assert record1 is not None and record1.status is InstanceStatus.KEYED
        audit_before = len(store.audit(issued[0].instance_id))
    # Fix the bad cell, import again: no duplicates, the fixed row comes in.
    _fill(out, {4: {"spo2": 95}})
    again = _import(data_dir, out)
    assert again.ok and again.rows_imported == 3
    with EntriesStore.open(data_dir, KEY) as store:
        assert len(store.entries(issued[0].instance_id)) == 20
        assert len(store.audit(issued[0].instance_id)) == audit_before + 10
    # Same workbook a third time: nothing changes at all.
    third = _import(data_dir, out)
    assert third.ok and third.fields_changed == 0
    # A changed value is an audited edit, by the clerk who owns the pass (another clerk's
    # workbook cannot overwrite it: issue #13 item 7).
    _fill(out, {3: {"pulse": 74}})
    fourth = _import(data_dir, out, clerk="Ann")
    assert fourth.fields_changed == 1
    with EntriesStore.open(data_dir, KEY) as store:
        last = store.audit(issued[0].instance_id)[-1]
        assert (last.old_value, last.new_value, last.changed_by) == ("72", "74", "Ann")


def test_empty_rows_are_ignored(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]
) -> None:
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, _printed(record_issued), out)
    result = _import(data_dir, out)
    assert result.ok and result.rows_imported == 0


def test_unknown_instance_and_bad_column(
    tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]
) -> None:
    out = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, _printed(record_issued), out)
    wb = load_workbook(out)
    ws = wb["news2"]
    ws.protection.sheet = False
    ws["A3"] = "T1-00001-Y"  # wrong check character
    ws["F3"] = _time(2)
    ws["E4"] = 99
    ws["F4"] = _time(2)
    wb.save(out)
    reasons = [(p.row, p.column, p.reason) for p in _import(data_dir, out).problems]
    assert reasons[0][:2] == (3, "form_instance_id") and "check character" in reasons[0][2]
    assert reasons[1][:2] == (4, "chart_column")


def test_corrupt_and_foreign_files_give_one_line_errors(tmp_path: Path, data_dir: Path) -> None:
    text = tmp_path / "notes.xlsx"
    text.write_text("not a spreadsheet")
    with pytest.raises(InputError, match=r"not a readable \.xlsx"):
        _import(data_dir, text)
    other = tmp_path / "other.xlsx"
    wb = Workbook()
    wb.active.title = "Budget"
    wb.save(other)
    with pytest.raises(InputError, match="no sheet for a known form"):
        _import(data_dir, other)


CELL = st.one_of(
    st.none(), st.text(max_size=30), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.dates(min_value=datetime(1900, 3, 1).date()),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(st.integers(3, 6), st.integers(1, 21), CELL), max_size=12))
def test_importer_never_crashes_on_any_cell(
    cells: list[tuple[int, int, object]], tmp_path: Path, data_dir: Path,
    record_issued: Callable[..., list[IssuedForm]],
) -> None:
    template = tmp_path / "template.xlsx"
    if not template.exists():
        build_workbook(NEWS2, _printed(record_issued, 1), template)
    wb = load_workbook(template)
    ws = wb["news2"]
    for row, column, value in cells:
        try:
            ws.cell(row=row, column=column, value=value)
        except Exception:  # openpyxl itself refuses (e.g. control characters)
            continue
    path = tmp_path / "fuzz.xlsx"
    try:
        wb.save(path)
    except Exception:  # openpyxl cannot write it: nothing a clerk could hand us
        return
    try:
        result = _import(data_dir, path)
    except InputError as exc:
        assert str(exc)  # a whole-file problem (e.g. row 1 changed): one clear line
        return
    for problem in result.problems:
        assert problem.sheet == "news2" and problem.reason
