"""The work store: one connection, one transaction, a schema version and forward
migrations; a ``work.db`` written before versions existed migrates without loss."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlcipher3

from paperfallback.export.state import ExportState
from paperfallback.reentry.model import EntryPass, FieldAddress
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import Register
from paperfallback.workstore import SCHEMA_VERSION, NewerWorkStore, WorkStore
from paperfallback.workstore.migrations import MIGRATIONS

KEY = "test-key-not-secret"
LEGACY = Path(__file__).parents[1] / "fixtures" / "workdb" / "work-v0.sqlcipher"
TABLES = ("id_counters", "issued_forms", "entries", "entry_audit", "entry_instances",
          "entry_discrepancies", "entry_downtime_patients", "export_units", "export_forms",
          "export_runs")


def _raw_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlcipher3.connect(str(path))
    conn.execute(f"PRAGMA key = '{KEY}'")
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in TABLES}
    finally:
        conn.close()


def test_a_legacy_work_db_migrates_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "work.db"
    shutil.copyfile(LEGACY, path)
    before = _raw_rows(path)
    assert all(before[t] for t in TABLES), "the fixture fills every table"
    with WorkStore.open(tmp_path, KEY) as work:
        assert work.schema_version == SCHEMA_VERSION == MIGRATIONS[-1].version
        register = Register(work, pc_code="T1")
        issued = register.list()
        assert [i.form_id for i in issued] == ["news2", "mar", "fluid-balance"]
        news2 = issued[0].instance_id
        store = EntriesStore(work)
        pulse = store.entry(FieldAddress(news2, "observations", 0, "pulse"), EntryPass.FIRST)
        assert pulse is not None and (pulse.value, pulse.keyed_by) == ("89", "Bob")
        assert [a.new_value for a in store.audit(news2)] == [
            "2026-11-24T10:00", "88", "18", "89"]
        assert len(store.discrepancies()) == 1
        assert store.downtime_patients()[0].given == "Bea"
        state = ExportState(work)
        assert state.previous_forms("fhir") == {news2: "fp"}
        assert state.previous("fhir")[f"{news2}:observations:0"].subject == {
            "reference": "Patient/p1"}
        # The counter goes on where the legacy PC left it: no ID is issued twice.
        assert register.instance_id() not in {i.instance_id for i in issued}
    assert _raw_rows(path) | {"id_counters": before["id_counters"]} == before


def test_a_new_work_db_is_at_the_latest_version(data_dir: Path) -> None:
    with WorkStore.open(data_dir, KEY) as work:
        assert work.schema_version == SCHEMA_VERSION
    with WorkStore.open(data_dir, KEY) as work:  # opening again changes nothing
        assert work.schema_version == SCHEMA_VERSION


def test_migrations_are_numbered_one_by_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_newer_work_db_is_refused_and_left_alone(data_dir: Path) -> None:
    with WorkStore.open(data_dir, KEY) as work, work.transaction() as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(NewerWorkStore, match="newer PaperFallback"):
        WorkStore.open(data_dir, KEY)


def test_one_transaction_nests_and_rolls_back_whole(data_dir: Path) -> None:
    with WorkStore.open(data_dir, KEY) as work:
        register = Register(work, pc_code="T1")
        with pytest.raises(RuntimeError), work.transaction():
            register.instance_id()  # joins the outer transaction
            raise RuntimeError("stop")
        assert not work.connection.in_transaction
        assert work.connection.execute("SELECT count(*) FROM id_counters").fetchone()[0] == 0
        first = register.instance_id()
        assert first.startswith("T1-")


def test_register_entries_and_export_share_one_store(data_dir: Path) -> None:
    with WorkStore.open(data_dir, KEY) as work:
        assert Register(work, pc_code="T1").work is EntriesStore(work).work is ExportState(
            work).work
