"""What each export wrote, in the work store, so the next one holds only what is new.

One row per exported *unit* (a chart column, a table row, a registration) and format:
its fingerprint (what it said), whether it was ever corrected after an export, and the
resources it produced (identifier value, type, subject). With that the next export can
send a correction as a conditional update and withdraw a value that was keyed in error
(``entered-in-error``) instead of leaving a wrong value in the EPR.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from paperfallback.workstore import WorkStore


@dataclass(frozen=True, slots=True)
class ExportedUnit:
    """A unit as a previous export wrote it."""

    unit_key: str
    instance_id: str
    fingerprint: str
    revised: bool
    resources: tuple[tuple[str, str, str], ...] = ()  # (identifier value, type, effective)
    subject: dict[str, Any] | None = None  # the patient reference its resources carried


@dataclass(frozen=True, slots=True)
class ExportRun:
    export_id: str
    format: str
    exported_at: datetime
    all_entries: bool
    out: str
    units: int
    resources: int


class ExportState:
    """The export's own tables in the work store (paperfallback.workstore.migrations)."""

    def __init__(self, work: WorkStore) -> None:
        self.work = work
        self._conn = work.connection

    @classmethod
    def open(cls, folder: Path, key: str, *, key_source: str = "the configured key") -> ExportState:
        """An ExportState over its own WorkStore, closed with it."""
        return cls(WorkStore.open(folder, key, key_source=key_source))

    def close(self) -> None:
        self.work.close()

    def __enter__(self) -> ExportState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def previous(self, fmt: str) -> dict[str, ExportedUnit]:
        rows = self._conn.execute(
            "SELECT unit_key, instance_id, fingerprint, revised, resources FROM export_units "
            "WHERE format = ?",
            (fmt,),
        ).fetchall()
        out = {}
        for r in rows:
            saved = orjson.loads(r[4])
            out[r[0]] = ExportedUnit(
                r[0], r[1], r[2], bool(r[3]),
                tuple((k, t, e) for k, t, e in saved.get("resources", [])),
                saved.get("subject"),
            )
        return out

    def previous_forms(self, fmt: str) -> dict[str, str]:
        """Form instance -> fingerprint of everything it held when last fully exported."""
        rows = self._conn.execute(
            "SELECT instance_id, fingerprint FROM export_forms WHERE format = ?", (fmt,)
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def record(
        self,
        fmt: str,
        export_id: str,
        exported_at: datetime,
        units: Iterable[ExportedUnit],
        *,
        all_entries: bool,
        out: str,
        resources: int,
        forms: dict[str, str] | None = None,
    ) -> None:
        """Mark units (and whole forms with nothing left to export) as exported, in one
        transaction with the run itself."""
        stamp = exported_at.isoformat()
        with self.work.transaction() as db:
            count = 0
            for unit in units:
                count += 1
                db.execute(
                    "INSERT OR REPLACE INTO export_units VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (fmt, unit.unit_key, unit.instance_id, unit.fingerprint, int(unit.revised),
                     orjson.dumps({"resources": [list(r) for r in unit.resources],
                                   "subject": unit.subject}).decode(),
                     export_id, stamp),
                )
            db.executemany(
                "INSERT OR REPLACE INTO export_forms VALUES (?, ?, ?)",
                ((fmt, instance_id, fingerprint)
                 for instance_id, fingerprint in (forms or {}).items()),
            )
            db.execute(
                "INSERT INTO export_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (export_id, fmt, stamp, int(all_entries), out, count, resources),
            )

    def runs(self) -> list[ExportRun]:
        rows = self._conn.execute(
            "SELECT export_id, format, exported_at, all_entries, out, units, resources "
            "FROM export_runs ORDER BY exported_at"
        ).fetchall()
        return [ExportRun(r[0], r[1], datetime.fromisoformat(r[2]), bool(r[3]), r[4], r[5], r[6])
                for r in rows]
