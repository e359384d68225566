"""Re-importing a workbook skips the rows recorded unchanged (issue #15), and only those:
a changed cell, a later edit on screen, another clerk or pass, a verified form, a row with
a problem, a changed header are all imported (or reported) exactly as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from paperfallback.formspec import load_catalogue
from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress, InstanceStatus
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workbook import build_workbook
from paperfallback.reentry.workbook_import import ImportResult, import_workbook
from paperfallback.register import IssuedForm, Register
from paperfallback.workstore import WorkStore

KEY = "test-key-not-secret"
FORMS = load_catalogue()
NEWS2 = FORMS.get("news2")


def _time(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).strftime("%d/%m/%Y %H:%M")


def _row(hours_ago: float, **changes: Any) -> dict[str, Any]:
    return {"obs_time": _time(hours_ago), "resp_rate": 18, "spo2": 96, "oxygen": "A",
            "sbp": 124, "pulse": 72, "acvpu": "A", "temp": 36.8, "news2_total": 0,
            "initials": "AW", **changes}


def _workbook(tmp_path: Path, record_issued: Callable[..., list[IssuedForm]],
              rows: dict[int, dict[str, Any]]) -> tuple[Path, list[IssuedForm]]:
    issued = record_issued("news2", 2, patient_id="p1", nhs_number="9434765919",
                           hospital_number="RM123456", patient_name="JONES, Ŵyn",
                           ward_code="W1", blank_columns=8,
                           printed_at=datetime.now(UTC) - timedelta(hours=5))
    path = tmp_path / "batch.xlsx"
    build_workbook(NEWS2, issued, path)
    _fill(path, rows)
    return path, issued


def _fill(path: Path, rows: dict[int, dict[str, Any]]) -> None:
    wb = load_workbook(path)
    ws = wb["news2"]
    header = [c.value for c in ws[1]]
    for row, values in rows.items():
        for field_id, value in values.items():
            ws.cell(row=row, column=header.index(field_id) + 1).value = value
    wb.save(path)


def _import(data_dir: Path, path: Path, clerk: str = "Ann",
            entry_pass: EntryPass = EntryPass.FIRST) -> ImportResult:
    conn = WorkStore.open(data_dir, KEY)
    try:
        return import_workbook(path, catalogue=FORMS, lookup=Register(conn, pc_code="T1").get,
                               store=EntriesStore(conn), clerk=clerk, entry_pass=entry_pass)
    finally:
        conn.close()


def _audit(data_dir: Path, instance_id: str) -> int:
    with EntriesStore.open(data_dir, KEY) as store:
        return len(store.audit(instance_id))


GOOD = {3: _row(4), 4: _row(3), 11: _row(4)}  # two columns of form 1, one of form 2


def test_an_unchanged_workbook_is_skipped_row_by_row_and_counted_as_before(
        tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]) -> None:
    path, issued = _workbook(tmp_path, record_issued, GOOD)
    first = _import(data_dir, path)
    assert first.ok and first.rows_imported == 3 and first.rows_unchanged == 0
    audit = [_audit(data_dir, i.instance_id) for i in issued]
    again = _import(data_dir, path)
    assert again.ok and again.rows_imported == 3 and again.rows_unchanged == 3
    assert again.fields_changed == 0 and again.instances == first.instances
    assert [_audit(data_dir, i.instance_id) for i in issued] == audit
    with EntriesStore.open(data_dir, KEY) as store:
        assert all(store.instance(i.instance_id).status is InstanceStatus.KEYED  # type: ignore[union-attr]
                   for i in issued)


def test_a_changed_cell_is_imported_and_its_forms_other_rows_are_checked_again(
        tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]) -> None:
    path, issued = _workbook(tmp_path, record_issued, GOOD)
    _import(data_dir, path)
    _fill(path, {4: {"pulse": 74}})
    again = _import(data_dir, path)
    assert again.ok and again.fields_changed == 1
    assert again.rows_unchanged == 1  # only the other form's row: form 1 was read again
    with EntriesStore.open(data_dir, KEY) as store:
        last = store.audit(issued[0].instance_id)[-1]
        assert (last.old_value, last.new_value) == ("72", "74")
    # a column moved later than the one after it: found, as it would have been before
    _fill(path, {3: {"obs_time": _time(2)}})
    moved = _import(data_dir, path)
    assert not moved.ok and {p.row for p in moved.problems} == {3}


def test_a_value_edited_on_screen_since_voids_the_record(
        tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]) -> None:
    """Without the record the workbook's value was imported again over the screen edit
    (an audited change): the same happens with it."""
    path, issued = _workbook(tmp_path, record_issued, GOOD)
    _import(data_dir, path)
    with EntriesStore.open(data_dir, KEY) as store:
        store.save(FieldAddress(issued[1].instance_id, "observations", 0, "pulse"), EntryPass.FIRST,
                   "90", EntryState.VALUE, clerk="Ann", form_id="news2")
    again = _import(data_dir, path)
    assert again.fields_changed == 1 and again.rows_unchanged == 2
    with EntriesStore.open(data_dir, KEY) as store:
        last = store.audit(issued[1].instance_id)[-1]
        assert (last.old_value, last.new_value, last.source) == ("90", "72", "workbook")


def test_a_verified_form_is_reported_left_alone_not_skipped(
        tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]) -> None:
    path, issued = _workbook(tmp_path, record_issued, GOOD)
    _import(data_dir, path)
    with EntriesStore.open(data_dir, KEY) as store:
        store.set_status(issued[0].instance_id, InstanceStatus.VERIFIED, by="Cat")
    audit = _audit(data_dir, issued[0].instance_id)
    again = _import(data_dir, path)
    assert {(p.row, p.value) for p in again.left_alone} == {
        (3, issued[0].instance_id), (4, issued[0].instance_id)}
    assert again.rows_unchanged == 1 and _audit(data_dir, issued[0].instance_id) == audit
    with EntriesStore.open(data_dir, KEY) as store:
        assert store.instance(issued[0].instance_id).status is InstanceStatus.VERIFIED  # type: ignore[union-attr]


def test_rows_with_problems_are_reported_every_time(
        tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]) -> None:
    path, _issued = _workbook(tmp_path, record_issued, {**GOOD, 5: _row(2, spo2="l00")})
    for _ in range(3):
        result = _import(data_dir, path)
        assert [(p.row, p.column) for p in result.problems] == [(5, "spo2")]
        assert result.rows_imported == 3 and result.rows_skipped == 1


def test_a_bad_row_cleared_lets_its_form_be_finished(
        tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]) -> None:
    path, issued = _workbook(tmp_path, record_issued, {**GOOD, 5: _row(2, spo2="l00")})
    _import(data_dir, path)
    with EntriesStore.open(data_dir, KEY) as store:
        assert store.instance(issued[0].instance_id).status is InstanceStatus.DRAFT  # type: ignore[union-attr]
    _fill(path, {5: dict.fromkeys(_row(2))})
    again = _import(data_dir, path)
    assert again.ok
    with EntriesStore.open(data_dir, KEY) as store:
        assert store.instance(issued[0].instance_id).status is InstanceStatus.KEYED  # type: ignore[union-attr]


def test_another_pass_or_a_changed_header_reads_every_row(
        tmp_path: Path, data_dir: Path, record_issued: Callable[..., list[IssuedForm]]) -> None:
    path, _issued = _workbook(tmp_path, record_issued, GOOD)
    _import(data_dir, path)
    second = _import(data_dir, path, clerk="Bob", entry_pass=EntryPass.SECOND)
    assert second.ok and second.rows_imported == 3 and second.rows_unchanged == 0
    wb = load_workbook(path)
    wb["news2"]["G2"] = "Resp rate"  # the labels row: part of what reads the rows
    wb.save(path)
    relabelled = _import(data_dir, path)
    assert relabelled.ok and relabelled.rows_imported == 3 and relabelled.rows_unchanged == 0
    assert _import(data_dir, path).rows_unchanged == 3


def test_the_records_live_in_the_work_store_schema_5(data_dir: Path) -> None:
    with WorkStore.open(data_dir, KEY) as work:
        assert work.schema_version >= 5
        columns = [r[1] for r in work.connection.execute("PRAGMA table_info(workbook_rows)")]
    assert columns[:2] == ["row_hash", "instance_id"] and "audit_max" in columns
