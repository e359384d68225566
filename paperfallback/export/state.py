"""What each export wrote, in the work store, so the next one holds only what is new.

One row per exported *unit* (a chart column, a table row, a registration) and format:
its fingerprint (what it said), whether it was ever corrected after an export, and the
resources it produced (identifier value, type, subject). With that the next export can
send a correction as a conditional update and withdraw a value that was keyed in error
(``entered-in-error``) instead of leaving a wrong value in the EPR.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import sqlcipher3

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


def _unit(r: Any) -> ExportedUnit:
    saved = orjson.loads(r[4])
    return ExportedUnit(r[0], r[1], r[2], bool(r[3]),
                        tuple((k, t, e) for k, t, e in saved.get("resources", [])),
                        saved.get("subject"))


_UNIT_COLUMNS = "SELECT unit_key, instance_id, fingerprint, revised, resources FROM export_units"


class PreviousUnits(Mapping[str, ExportedUnit]):
    """Units exported before, looked up in the work store as an export asks for them.

    Unit keys start with their form's instance ID ("<instance>/..."), and an export asks
    for one form's units together: the first look-up of a form reads all of its units in
    one range query on the primary key; the form before is dropped."""

    def __init__(self, conn: Any, fmt: str) -> None:
        self._conn, self._fmt = conn, fmt
        self._form = ""
        self._units: dict[str, ExportedUnit] = {}

    def __getitem__(self, key: str) -> ExportedUnit:
        form, slash, _ = key.partition("/")
        if not slash:
            row = self._conn.execute(_UNIT_COLUMNS + " WHERE format = ? AND unit_key = ?",
                                     (self._fmt, key)).fetchone()
            if row is None:
                raise KeyError(key)
            return _unit(row)
        if form != self._form:
            self._form = form
            self._units = {r[0]: _unit(r) for r in self._conn.execute(
                _UNIT_COLUMNS + " WHERE format = ? AND unit_key >= ? AND unit_key < ?",
                (self._fmt, form + "/", form + "0"))}  # '0' follows '/'
        return self._units[key]

    def __iter__(self) -> Iterator[str]:
        for (key,) in self._conn.execute(
                "SELECT unit_key FROM export_units WHERE format = ?", (self._fmt,)):
            yield key

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM export_units WHERE format = ?",
                                      (self._fmt,)).fetchone()[0])

    def items(self) -> Iterator[tuple[str, ExportedUnit]]:  # type: ignore[override]
        """Every unit, read as it is used (one pass, not a dict of them all)."""
        for row in self._conn.execute(_UNIT_COLUMNS + " WHERE format = ?", (self._fmt,)):
            yield row[0], _unit(row)


class Marks(Protocol):
    """Units an export will mark as exported: a list, or a :class:`MarkSpool`."""

    def append(self, unit: ExportedUnit, /) -> None: ...
    def __iter__(self) -> Iterator[ExportedUnit]: ...


def no_marks() -> list[ExportedUnit]:
    return []


class MarkSpool:
    """Units to mark as exported, kept on disk until the export's files are written (an
    export of 50,000 forms marks hundreds of thousands). The spool is a SQLite file in the
    temporary folder encrypted with a key of its own that is never stored: it holds
    identifiers and patient references, and is deleted when the export ends."""

    def __init__(self) -> None:
        from paperfallback.cache.importers.staging import Staging

        handle, name = tempfile.mkstemp(prefix="pf-export-", suffix=".spool")
        os.close(handle)
        self.path = Path(name)
        self._conn = sqlcipher3.connect(name, isolation_level=None, check_same_thread=False)
        self._conn.execute(f"PRAGMA key = \"x'{secrets.token_hex(32)}'\"")
        self._conn.execute("PRAGMA journal_mode = OFF")  # a scratch file: nothing to recover
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute("BEGIN")  # one transaction, never committed: no sync per row
        self._staging = Staging(self._conn)
        self._count = 0

    def append(self, unit: ExportedUnit, /) -> None:
        self._staging.put("mark", str(self._count), unit)
        self._count += 1

    def __iter__(self) -> Iterator[ExportedUnit]:
        for batch in self._staging.batches("mark"):
            for _, unit in batch:
                yield unit

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._conn.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> MarkSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        """Every unit exported before in ``fmt`` (in memory: small stores and tests)."""
        rows = self._conn.execute(
            "SELECT unit_key, instance_id, fingerprint, revised, resources FROM export_units "
            "WHERE format = ?",
            (fmt,),
        ).fetchall()
        return {r[0]: _unit(r) for r in rows}

    def previous_units(self, fmt: str) -> PreviousUnits:
        """The same, read from the work store as asked (an export's memory must not grow
        with everything exported before: issue 15)."""
        return PreviousUnits(self._conn, fmt)

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
