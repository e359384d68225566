"""The entries store: keyed values, their audit trail, instance status and discrepancies.

Lives in the work store (:class:`~paperfallback.workstore.WorkStore`) beside the register;
its tables are in :mod:`paperfallback.workstore.migrations`, its records in
:mod:`paperfallback.reentry.store_rows`. Every save is its
own committed transaction, so killing the app mid-form loses nothing already left; a
save that changes nothing writes nothing (re-importing a workbook is idempotent), and a
save that changes a value writes the old and new value to ``entry_audit``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from paperfallback.cache.encrypted_db import Connection
from paperfallback.domain.errors import InputError
from paperfallback.reentry.model import (
    AuditRecord,
    Discrepancy,
    DiscrepancyKind,
    Entry,
    EntryPass,
    EntryState,
    FieldAddress,
    InstanceStatus,
)
from paperfallback.reentry.store_rows import (
    _CLERK_COLUMN,
    _ENTRY_COLUMNS,
    _INSTANCE_COLUMNS,
    DowntimePatient,
    FieldWrite,
    InstanceRecord,
    _entry,
    _instance,
    _now,
)
from paperfallback.workstore import WorkStore

__all__ = ["DowntimePatient", "EntriesStore", "FieldWrite", "InstanceRecord"]



class EntriesStore:
    """Keyed entries in the work store. Not thread-safe: one per thread or process."""

    def __init__(self, work: WorkStore) -> None:
        self.work = work
        self._conn = work.connection

    @classmethod
    def open(
        cls, folder: Path, key: str, *, key_source: str = "the configured key"
    ) -> EntriesStore:
        """An EntriesStore over its own WorkStore, closed with it."""
        return cls(WorkStore.open(folder, key, key_source=key_source))

    def close(self) -> None:
        self.work.close()

    def __enter__(self) -> EntriesStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The work store's one transaction (nested use joins the outer one)."""
        with self.work.transaction() as db:
            yield db

    # ---- instances ------------------------------------------------------------------------

    def ensure_instance(
        self, instance_id: str, form_id: str, *, patient_id: str | None = None
    ) -> InstanceRecord:
        """The instance's record, created (status 'printed') on first opening."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT form_id FROM entry_instances WHERE instance_id = ?", (instance_id,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO entry_instances (instance_id, form_id, status, patient_id, "
                    "patient_match, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (instance_id, form_id, InstanceStatus.PRINTED.value, patient_id,
                     "printed for" if patient_id else "", _now()),
                )
            elif row[0] != form_id:
                raise InputError(
                    f"form {instance_id} was first keyed as a {row[0]!r} form, not {form_id!r}"
                )
        found = self.instance(instance_id)
        assert found is not None
        return found

    def instance(self, instance_id: str) -> InstanceRecord | None:
        row = self._conn.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM entry_instances WHERE instance_id = ?",
            (instance_id,),
        ).fetchone()
        return _instance(row) if row else None

    def instances(self) -> list[InstanceRecord]:
        rows = self._conn.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM entry_instances ORDER BY instance_id"
        ).fetchall()
        return [_instance(r) for r in rows]

    def set_status(self, instance_id: str, status: InstanceStatus, *, by: str = "") -> None:
        """Move an instance to ``status`` (callers enforce the order; see workflow)."""
        with self.transaction() as db:
            sets = "status = ?, updated_at = ?"
            params: list[Any] = [status.value, _now()]
            if status is InstanceStatus.VERIFIED and by:
                sets += ", resolved_by = ?"
                params.append(by)
            if status is InstanceStatus.EXPORTED:
                sets += ", exported_at = ?"
                params.append(_now())
            cur = db.execute(
                f"UPDATE entry_instances SET {sets} WHERE instance_id = ?",
                (*params, instance_id),
            )
            if cur.rowcount == 0:
                raise InputError(f"nothing has been keyed for form {instance_id}")

    def mark_exported(self, instance_ids: Iterable[str]) -> int:
        """For the export: mark instances written to an export file; returns how many."""
        count = 0
        with self.transaction() as db:
            for instance_id in instance_ids:
                cur = db.execute(
                    "UPDATE entry_instances SET status = ?, exported_at = ?, updated_at = ? "
                    "WHERE instance_id = ?",
                    (InstanceStatus.EXPORTED.value, _now(), _now(), instance_id),
                )
                count += cur.rowcount
        return count

    def set_double_entry(self, instance_id: str, required: bool | None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE entry_instances SET double_entry = ? WHERE instance_id = ?",
                (None if required is None else int(required), instance_id),
            )

    def set_clerk(self, instance_id: str, entry_pass: EntryPass, clerk: str) -> None:
        column = {EntryPass.FIRST: "first_clerk", EntryPass.SECOND: "second_clerk",
                  EntryPass.RESOLVED: "resolved_by"}[entry_pass]
        with self.transaction() as db:
            db.execute(
                f"UPDATE entry_instances SET {column} = ? WHERE instance_id = ? AND {column} = ''",
                (clerk, instance_id),
            )

    def mark_pass_done(self, instance_id: str, entry_pass: EntryPass) -> None:
        if entry_pass is EntryPass.RESOLVED:
            return
        column = "first_done_at" if entry_pass is EntryPass.FIRST else "second_done_at"
        with self.transaction() as db:
            db.execute(
                f"UPDATE entry_instances SET {column} = coalesce({column}, ?) "
                "WHERE instance_id = ?",
                (_now(), instance_id),
            )

    def set_patient(self, instance_id: str, patient_id: str | None, how: str) -> None:
        """Link a blank form to the patient it was written for (``how`` says how matched)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE entry_instances SET patient_id = ?, patient_match = ?, updated_at = ? "
                "WHERE instance_id = ?",
                (patient_id, how, _now(), instance_id),
            )

    # ---- entries --------------------------------------------------------------------------

    def save(
        self,
        address: FieldAddress,
        entry_pass: EntryPass,
        value: str | None,
        state: EntryState,
        *,
        clerk: str,
        form_id: str,
        source: str = "screen",
    ) -> bool:
        """Save one field in its own transaction; True when something changed."""
        return self.save_many([FieldWrite(address, value, state)], entry_pass, clerk=clerk,
                              form_id=form_id, source=source) > 0

    def save_many(
        self,
        writes: Sequence[FieldWrite],
        entry_pass: EntryPass,
        *,
        clerk: str,
        form_id: str,
        source: str = "workbook",
    ) -> int:
        """Save a batch in one transaction (a workbook row); returns how many changed.

        Unchanged values write nothing; each changed one writes its audit record.
        """
        if not clerk.strip():
            raise InputError("name the clerk before keying (who keyed it is recorded)")
        if not writes:
            return 0
        with self.transaction() as db:
            now = _now()
            old = self._current(writes, entry_pass)
            changed = []
            for w in writes:
                value = w.value if w.state is EntryState.VALUE else None
                if w.state is EntryState.VALUE and not value:
                    raise InputError(
                        f"{w.address.label()}: an empty value must be marked not recorded"
                    )
                before = old.get(w.address)
                if before is not None and before == (value, w.state.value):
                    continue
                changed.append((w.address, value, w.state, before))
            if not changed:
                return 0
            for instance_id in {a.instance_id for a, *_ in changed}:
                self._touch_instance(db, instance_id, form_id, entry_pass, clerk, now)
            db.executemany(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(a.instance_id, entry_pass.value, a.section, a.index, a.field_id, value,
                  state.value, clerk, now, source) for a, value, state, _ in changed],
            )
            db.executemany(
                "INSERT INTO entry_audit (instance_id, pass, section, idx, field_id, "
                "old_value, old_state, new_value, new_state, changed_by, changed_at, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(a.instance_id, entry_pass.value, a.section, a.index, a.field_id,
                  before[0] if before else None, before[1] if before else None, value,
                  state.value, clerk, now, source) for a, value, state, before in changed],
            )
            return len(changed)

    def _current(
        self, writes: Sequence[FieldWrite], entry_pass: EntryPass
    ) -> dict[FieldAddress, tuple[str | None, str]]:
        """The stored (value, state) of the written fields, one query per column."""
        out: dict[FieldAddress, tuple[str | None, str]] = {}
        for instance_id, section, index in {
            (w.address.instance_id, w.address.section, w.address.index) for w in writes
        }:
            for r in self._conn.execute(
                "SELECT field_id, value, state FROM entries WHERE instance_id = ? AND "
                "pass = ? AND section = ? AND idx = ?",
                (instance_id, entry_pass.value, section, index),
            ):
                out[FieldAddress(instance_id, section, index, r[0])] = (r[1], r[2])
        return out

    def _touch_instance(self, db: Connection, instance_id: str, form_id: str,
                        entry_pass: EntryPass, clerk: str, now: str) -> None:
        """Create the instance (draft) on its first value; record who keyed this pass."""
        instance = db.execute(
            "SELECT form_id, status FROM entry_instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        if instance is None:
            db.execute(
                "INSERT INTO entry_instances (instance_id, form_id, status, updated_at) "
                "VALUES (?, ?, ?, ?)",
                (instance_id, form_id, InstanceStatus.DRAFT.value, now),
            )
        elif instance[0] != form_id:
            raise InputError(f"form {instance_id} is a {instance[0]!r} form, not {form_id!r}")
        elif instance[1] == InstanceStatus.PRINTED.value:
            db.execute(
                "UPDATE entry_instances SET status = ?, updated_at = ? WHERE instance_id = ?",
                (InstanceStatus.DRAFT.value, now, instance_id),
            )
        column = _CLERK_COLUMN[entry_pass]
        db.execute(
            f"UPDATE entry_instances SET {column} = CASE WHEN {column} = '' THEN ? "
            f"ELSE {column} END, updated_at = ? WHERE instance_id = ?",
            (clerk, now, instance_id),
        )

    def clear(self, address: FieldAddress, entry_pass: EntryPass, *, clerk: str) -> bool:
        """Remove a keyed value (keyed in error); the audit keeps what it was."""
        with self.transaction() as db:
            key = (address.instance_id, entry_pass.value, address.section, address.index,
                   address.field_id)
            old = db.execute(
                "SELECT value, state FROM entries WHERE instance_id = ? AND pass = ? AND "
                "section = ? AND idx = ? AND field_id = ?",
                key,
            ).fetchone()
            if old is None:
                return False
            db.execute(
                "DELETE FROM entries WHERE instance_id = ? AND pass = ? AND section = ? AND "
                "idx = ? AND field_id = ?",
                key,
            )
            db.execute(
                "INSERT INTO entry_audit (instance_id, pass, section, idx, field_id, old_value, "
                "old_state, new_value, new_state, changed_by, changed_at, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'cleared', ?, ?, 'screen')",
                (*key, old[0], old[1], clerk, _now()),
            )
            return True

    def entries(self, instance_id: str, entry_pass: EntryPass | None = None) -> list[Entry]:
        sql = f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE instance_id = ?"
        params: list[Any] = [instance_id]
        if entry_pass is not None:
            sql += " AND pass = ?"
            params.append(entry_pass.value)
        sql += " ORDER BY section, idx, field_id"
        return [_entry(r) for r in self._conn.execute(sql, params).fetchall()]

    def entries_of_many(
        self, instance_ids: Iterable[str], passes: Sequence[EntryPass]
    ) -> dict[str, list[Entry]]:
        """Entries of many instances in the given passes, by instance, in one query per
        500 instances (an export of 10,000 forms is not 20,000 queries)."""
        wanted = sorted(set(instance_ids))
        out: dict[str, list[Entry]] = {i: [] for i in wanted}
        pass_values = [p.value for p in passes]
        marks = ", ".join("?" for _ in pass_values)
        moments: dict[str, datetime] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            ids = ", ".join("?" for _ in chunk)
            rows = self._conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE instance_id IN ({ids}) AND "
                f"pass IN ({marks}) ORDER BY instance_id, section, idx, field_id",
                (*chunk, *pass_values),
            ).fetchall()
            for r in rows:
                out[r[0]].append(_entry(r, moments))
        return out

    def column_entries(
        self, instance_id: str, entry_pass: EntryPass, section: str, index: int
    ) -> dict[str, Entry]:
        """One chart column or table row of one pass, by field id."""
        rows = self._conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE instance_id = ? AND pass = ? AND "
            "section = ? AND idx = ?",
            (instance_id, entry_pass.value, section, index),
        ).fetchall()
        return {r[3]: _entry(r) for r in rows}

    def entry(self, address: FieldAddress, entry_pass: EntryPass) -> Entry | None:
        row = self._conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE instance_id = ? AND pass = ? AND "
            "section = ? AND idx = ? AND field_id = ?",
            (address.instance_id, entry_pass.value, address.section, address.index,
             address.field_id),
        ).fetchone()
        return _entry(row) if row else None

    def keyed_instance_ids(self) -> list[str]:
        rows = self._conn.execute("SELECT DISTINCT instance_id FROM entries").fetchall()
        return sorted(r[0] for r in rows)

    def audit(self, instance_id: str) -> list[AuditRecord]:
        rows = self._conn.execute(
            "SELECT instance_id, section, idx, field_id, pass, old_value, old_state, new_value, "
            "new_state, changed_by, changed_at, source FROM entry_audit WHERE instance_id = ? "
            "ORDER BY id",
            (instance_id,),
        ).fetchall()
        return [
            AuditRecord(
                address=FieldAddress(r[0], r[1], r[2], r[3]),
                entry_pass=EntryPass(r[4]),
                old_value=r[5],
                old_state=EntryState(r[6]) if r[6] else None,
                new_value=r[7],
                new_state=EntryState(r[8]) if r[8] != "cleared" else None,
                changed_by=r[9],
                changed_at=datetime.fromisoformat(r[10]),
                source=r[11],
            )
            for r in rows
        ]

    # ---- discrepancies --------------------------------------------------------------------

    def raise_discrepancy(
        self, kind: DiscrepancyKind, address: FieldAddress, detail: dict[str, str]
    ) -> int:
        """Record (or re-open with new detail) an open discrepancy; returns its id."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, detail, is_open FROM entry_discrepancies WHERE kind = ? AND "
                "instance_id = ? AND section = ? AND idx = ? AND field_id = ?",
                (kind.value, address.instance_id, address.section, address.index,
                 address.field_id),
            ).fetchone()
            text = json.dumps(detail, sort_keys=True, ensure_ascii=False)
            if row is None:
                cur = db.execute(
                    "INSERT INTO entry_discrepancies (kind, instance_id, section, idx, field_id, "
                    "detail, is_open, raised_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                    (kind.value, address.instance_id, address.section, address.index,
                     address.field_id, text, _now()),
                )
                return int(cur.lastrowid)
            if row[1] != text or not row[2]:
                db.execute(
                    "UPDATE entry_discrepancies SET detail = ?, is_open = 1, raised_at = ?, "
                    "closed_at = NULL, closed_by = '', note = '' WHERE id = ?",
                    (text, _now(), row[0]),
                )
            return int(row[0])

    def close_discrepancy(
        self, kind: DiscrepancyKind, address: FieldAddress, *, by: str, note: str
    ) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE entry_discrepancies SET is_open = 0, closed_at = ?, closed_by = ?, "
                "note = ? WHERE kind = ? AND instance_id = ? AND section = ? AND idx = ? AND "
                "field_id = ? AND is_open = 1",
                (_now(), by, note, kind.value, address.instance_id, address.section,
                 address.index, address.field_id),
            )
            return bool(cur.rowcount)

    def acknowledge(self, discrepancy_id: int, *, by: str, note: str) -> None:
        """The ward or clerk has seen a discrepancy and acted on it (closes it)."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE entry_discrepancies SET is_open = 0, closed_at = ?, closed_by = ?, "
                "note = ? WHERE id = ?",
                (_now(), by, note, discrepancy_id),
            )
            if cur.rowcount == 0:
                raise InputError(f"no discrepancy number {discrepancy_id}")

    def discrepancies(
        self, instance_id: str | None = None, *, open_only: bool = True
    ) -> list[Discrepancy]:
        sql = (
            "SELECT id, kind, instance_id, section, idx, field_id, detail, is_open, raised_at, "
            "closed_at, closed_by, note FROM entry_discrepancies"
        )
        clauses, params = [], []
        if instance_id is not None:
            clauses.append("instance_id = ?")
            params.append(instance_id)
        if open_only:
            clauses.append("is_open = 1")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY instance_id, section, idx, field_id"
        return [
            Discrepancy(
                id=r[0],
                kind=DiscrepancyKind(r[1]),
                address=FieldAddress(r[2], r[3], r[4], r[5]),
                detail=json.loads(r[6]),
                is_open=bool(r[7]),
                raised_at=datetime.fromisoformat(r[8]),
                closed_at=datetime.fromisoformat(r[9]) if r[9] else None,
                closed_by=r[10],
                note=r[11],
            )
            for r in self._conn.execute(sql, params).fetchall()
        ]

    # ---- downtime patients ----------------------------------------------------------------

    def record_downtime_patient(self, patient: DowntimePatient) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO entry_downtime_patients VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (patient.downtime_number, patient.instance_id, patient.nhs_number,
                 patient.hospital_number, patient.family, patient.given, patient.birth_date,
                 patient.sex, patient.recorded_by, patient.recorded_at.isoformat()),
            )

    def downtime_patients(self) -> list[DowntimePatient]:
        rows = self._conn.execute(
            "SELECT * FROM entry_downtime_patients ORDER BY downtime_number"
        ).fetchall()
        return [
            DowntimePatient(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                            datetime.fromisoformat(r[9]))
            for r in rows
        ]


