"""``cache import`` without the extract in memory: records written to the cache a batch at a
time, inside the import's one transaction (issue 15, goal 3).

:func:`import_extract` reads the extract with ``importers.stream_extract`` into a
:class:`CacheRows`: its ``patients``, ``observations`` ... are writers that turn each
record into its table row (``cache.store_rows``, the same rows ``replace_snapshot``
writes) and insert them with ``executemany`` every :data:`BATCH` records; what waits to
be resolved sits in an encrypted scratch file beside the cache (importers.staging).
Nothing is committed until every record is in and every check has passed: a failed,
refused or killed import rolls back and the previous snapshot stays, exactly as with
``replace_snapshot``.

In memory stay one batch, the current stays (one per inpatient), the wards and what the
hospital's structure holds (beds, clinicians, medicines): not the patients, observations,
prescriptions or appointments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from paperfallback.cache.importers.extract import _unique, stream_extract
from paperfallback.cache.importers.policy import DEFAULT_POLICY, ImportPolicy
from paperfallback.cache.importers.staging import BATCH, Staging
from paperfallback.cache.store_rows import (
    ImportResult,
    appointment_row,
    fact_row,
    patient_row,
    stay_columns,
    theatre_row,
    ward_row,
    write_snapshot_meta,
)
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import (
    Alert,
    Allergy,
    Appointment,
    Observation,
    Patient,
    Prescription,
    Stay,
    TheatreCase,
    Ward,
)
from paperfallback.settings import LOCAL_PATIENT_ID_SYSTEM

T = TypeVar("T")
Connection = Any
_DEAD = "SELECT id FROM patients WHERE json_extract(data, '$.deceased')"


class RowWriter(Generic[T]):
    """Appends records to one table, ``BATCH`` rows per ``executemany``.

    ``unique`` (tables keyed by id): a record whose id is already in the table is dropped
    when it is the same record and refused when it differs, as ``read_extract`` does for
    two files of one extract (``importers.extract._unique``).
    """

    def __init__(self, db: Connection, table: str, row: Callable[[T], tuple[Any, ...]],
                 *, unique: str = "") -> None:
        self.db, self.table, self.row, self.unique = db, table, row, unique
        self._rows: list[tuple[Any, ...]] = []
        self._count = 0

    def append(self, item: T, /) -> None:
        self._rows.append(self.row(item))
        if len(self._rows) >= BATCH:
            self.flush()

    def extend(self, items: Iterable[T], /) -> None:
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        self.flush()
        return self._count

    def flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        if self.unique:
            rows = self._new_rows(rows)
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            self.db.executemany(f"INSERT INTO {self.table} VALUES ({marks})", rows)
            self._count += len(rows)

    def _new_rows(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Rows whose id is new; the data column of a repeated id must be the same."""
        data_at = {"patients": 7}.get(self.table, len(rows[0]) - 1)
        by_id: dict[str, tuple[Any, ...]] = {}
        ids = list({r[0] for r in rows})
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for rid, data in self.db.execute(
                    f"SELECT id, data FROM {self.table} WHERE id IN ({marks})", chunk):
                by_id[rid] = (rid, *(None,) * (data_at - 1), data)
        new = []
        for row in rows:
            other = by_id.setdefault(row[0], row)
            if other is row:
                new.append(row)
            elif other[data_at] != row[data_at]:
                raise InputError(
                    f"two different {self.unique} records with id {row[0]!r} in the extract "
                    "(in two of its files); one would silently replace the other"
                )
        return new


class CacheRows:
    """The Output (``importers.fhir_collect.Output``) of an import into the cache."""

    def __init__(self, db: Connection) -> None:
        self.db = db
        self.patients: RowWriter[Patient] = RowWriter(
            db, "patients", lambda p: patient_row(p, None), unique="patient")
        self.facts: RowWriter[tuple[str, Any]] = RowWriter(
            db, "facts", lambda item: fact_row(*item))  # one queue: rows in the order given
        self.allergies: FactWriter[Allergy] = FactWriter(self.facts, "allergy")
        self.alerts: FactWriter[Alert] = FactWriter(self.facts, "alert")
        self.prescriptions: FactWriter[Prescription] = FactWriter(self.facts, "prescription")
        self.observations: FactWriter[Observation] = FactWriter(self.facts, "observation")
        self.appointments: RowWriter[Appointment] = RowWriter(
            db, "appointments", appointment_row, unique="appointment")
        self.theatre_cases: RowWriter[TheatreCase] = RowWriter(
            db, "theatre_cases", theatre_row, unique="theatrecase")
        self.stays: list[Stay] = []  # one per inpatient: applied to patient rows at the end
        self.wards: list[Ward] = []
        self.spo2_scale: dict[str, int] = {}
        self.skipped: Counter[str] = Counter()

    def writers(self) -> list[RowWriter[Any]]:
        return [self.patients, self.facts, self.appointments, self.theatre_cases]

    def finish(self) -> dict[str, int]:
        """Flush, apply the stays, take deceased patients off every list, check every
        reference; the snapshot's counts."""
        for writer in self.writers():
            writer.flush()
        wards = list({w.code: w for w in self.wards}.values())
        self.db.executemany("INSERT INTO wards VALUES (?, ?, ?)", map(ward_row, wards))
        dead = {r[0] for r in self.db.execute(_DEAD)}
        stays = _unique([s for s in self.stays if s.patient_id not in dead])
        # The rule of importers.extract._off_lists_if_deceased (issue 13, item 4), in SQL.
        if len(stays) != len(_unique(self.stays)):
            self.skipped["current stay of a deceased patient (not on any ward list)"] += (
                len(_unique(self.stays)) - len(stays))
        dropped = sum(self.db.execute(
            f"DELETE FROM {table} WHERE patient_id IN ({_DEAD})").rowcount
            for table in ("appointments", "theatre_cases"))
        if dropped:
            self.skipped["appointment or theatre case of a deceased patient"] += dropped
        _check_references(self.db, stays, {w.code for w in wards})
        self.db.executemany(
            "UPDATE patients SET ward_code = ?, bed = ?, stay = ? WHERE id = ?",
            ((*stay_columns(s), s.patient_id) for s in stays))
        count = self._count
        return {
            "patients": len(self.patients),
            "deceased": len(dead),
            "wards": len(wards),
            "stays": len(stays),
            "allergies": len(self.allergies),
            "alerts": len(self.alerts),
            "prescriptions": len(self.prescriptions),
            "observations": len(self.observations),
            "appointments": count("appointments"),
            "theatre_cases": count("theatre_cases"),
        }

    def _count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


class FactWriter(Generic[T]):
    """Facts of one kind, queued with the other kinds' (the facts table's row order is the
    order the importer gives them, as ``replace_snapshot`` writes them)."""

    def __init__(self, facts: RowWriter[tuple[str, Any]], kind: str) -> None:
        self.facts, self.kind, self.count = facts, kind, 0

    def append(self, item: T, /) -> None:
        self.facts.append((self.kind, item))
        self.count += 1

    def extend(self, items: Iterable[T], /) -> None:
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        return self.count


def _check_references(db: Connection, stays: list[Stay], wards: set[str]) -> None:
    """Every record must point at a patient of this snapshot (``store_rows``'s rule for a
    Snapshot, asked of the tables)."""
    for stay in stays:
        if db.execute("SELECT 1 FROM patients WHERE id = ?", (stay.patient_id,)).fetchone() \
                is None:
            raise InputError(f"stay {stay.id!r} refers to patient {stay.patient_id!r}, "
                             "who is not in the extract")
    for table, kind in (("facts", "kind"), ("appointments", "'appointment'"),
                        ("theatre_cases", "'theatre case'")):
        row = db.execute(
            f"SELECT {kind}, json_extract(data, '$.id'), patient_id FROM {table} t WHERE NOT "
            "EXISTS (SELECT 1 FROM patients p WHERE p.id = t.patient_id) LIMIT 1").fetchone()
        if row is not None:
            raise InputError(f"{row[0]} {row[1]!r} refers to patient {row[2]!r}, "
                             "who is not in the extract")
    for stay in stays:
        if stay.ward_code and stay.ward_code not in wards:
            raise InputError(
                f"stay {stay.id!r} refers to ward {stay.ward_code!r}, which is not in the extract"
            )


def write_extract(
    db: Connection,
    paths: Sequence[Path],
    imported_at: datetime,
    *,
    as_of: datetime | None = None,
    hospital_number_systems: Sequence[str] = (LOCAL_PATIENT_ID_SYSTEM,),
    now: datetime | None = None,
    policy: ImportPolicy = DEFAULT_POLICY,
    accept: Callable[[datetime], None] | None = None,
    undated: tuple[datetime, str] | None = None,
    scratch_folder: Path | None = None,
) -> ImportResult:
    """Replace every table's rows with the extract at ``paths`` (inside the caller's
    transaction). ``accept(data_as_of)`` may refuse the extract before anything is
    written (refresh: not newer than the cache). What waits to be resolved is kept in a
    scratch file in ``scratch_folder`` (importers.staging.Staging.scratch)."""
    for table in ("wards", "patients", "facts", "appointments", "theatre_cases"):
        db.execute(f"DELETE FROM {table}")
    out = CacheRows(db)
    staging = Staging.scratch(scratch_folder, sole=True)  # inside the cache's write lock
    try:
        read = stream_extract(paths, out, staging, as_of=as_of,
                              hospital_number_systems=hospital_number_systems, now=now,
                              policy=policy, accept=accept, undated=undated)
    finally:
        staging.close()
    counts = out.finish()
    skipped = Counter(out.skipped)
    skipped.update(read.skipped)
    skipped_sorted = dict(sorted(skipped.items()))
    write_snapshot_meta(db, read.data_as_of, read.as_of_source, imported_at, counts,
                        (str(p) for p in read.sources), skipped_sorted, out.spo2_scale)
    return ImportResult(data_as_of=read.data_as_of, as_of_source=read.as_of_source,
                        counts=counts, previous_patients=None, skipped=skipped_sorted)


