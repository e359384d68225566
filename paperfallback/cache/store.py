"""The encrypted cache: one snapshot of the ward extract at a time, replaced atomically.

Whole facts are kept as JSON in one column beside the few columns that queries need,
so adding a field to a fact needs no migration. Every query returns domain objects.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from paperfallback.cache.encrypted_db import Connection, DatabaseError, open_encrypted
from paperfallback.cache.search_keys import bed_sort_key, fold, identifier_key
from paperfallback.cache.staleness import (
    Freshness,
    as_of_is_known,
    public_as_of_source,
    utc_now,
)
from paperfallback.domain.codec import from_json, to_json
from paperfallback.domain.errors import (
    CacheError,
    ImportRefused,
    InputError,
    InvalidNhsNumber,
    NoCache,
)
from paperfallback.domain.nhs_number import is_valid
from paperfallback.domain.records import (
    Alert,
    Allergy,
    Appointment,
    Observation,
    Patient,
    PatientRecord,
    Prescription,
    Snapshot,
    Stay,
    TheatreCase,
    Ward,
)

CACHE_FILE = "cache.db"
SCHEMA_VERSION = 1
# SpO2 scale per patient in ``meta``: key 'spo2_scale:<patient id>', value '1' or '2'
_SPO2_ROW = "spo2_scale:"
_SPO2_ROW_RANGE = ("spo2_scale:", "spo2_scale;")  # ';' follows ':': every row's key between
_SPO2_ROWS_COMPLETE = "spo2_scale_rows"
T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger(__name__)
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data_as_of TEXT NOT NULL, as_of_source TEXT NOT NULL, imported_at TEXT NOT NULL,
    counts TEXT NOT NULL, sources TEXT NOT NULL, skipped TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_log (
    at TEXT NOT NULL, ok INTEGER NOT NULL, source TEXT NOT NULL, message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS wards (
    code TEXT PRIMARY KEY, name_key TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS patients (
    id TEXT PRIMARY KEY, nhs_number TEXT, hospital_key TEXT, family_key TEXT NOT NULL,
    given_key TEXT NOT NULL, ward_code TEXT, bed TEXT, data TEXT NOT NULL, stay TEXT
);
CREATE INDEX IF NOT EXISTS patients_nhs ON patients (nhs_number);
CREATE INDEX IF NOT EXISTS patients_hosp ON patients (hospital_key);
CREATE INDEX IF NOT EXISTS patients_family ON patients (family_key);
CREATE INDEX IF NOT EXISTS patients_given ON patients (given_key);
CREATE INDEX IF NOT EXISTS patients_ward ON patients (ward_code);
CREATE TABLE IF NOT EXISTS facts (
    kind TEXT NOT NULL, patient_id TEXT NOT NULL, sort_key TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS facts_patient ON facts (patient_id, kind, sort_key);
CREATE TABLE IF NOT EXISTS appointments (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, clinic_key TEXT NOT NULL, day TEXT NOT NULL,
    start TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS appointments_clinic ON appointments (clinic_key, day, start);
CREATE TABLE IF NOT EXISTS theatre_cases (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, theatre_key TEXT NOT NULL, day TEXT NOT NULL,
    planned_order INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS theatre_day ON theatre_cases (theatre_key, day, planned_order);
"""

_FACT_KINDS: dict[str, type[Any]] = {
    "allergy": Allergy,
    "alert": Alert,
    "prescription": Prescription,
    "observation": Observation,
}


@dataclass(frozen=True, slots=True)
class CacheStatus:
    """What monitoring and every page need to know about the snapshot."""

    has_snapshot: bool
    data_as_of: datetime | None
    as_of_source: str
    imported_at: datetime | None
    counts: dict[str, int]
    freshness: Freshness | None
    last_refresh_ok_at: datetime | None
    last_refresh_attempt_at: datetime | None
    last_refresh_failed: bool
    last_refresh_message: str
    damage: str = ""  # why the cache file cannot be read ("" when it can)

    @property
    def is_stale(self) -> bool:
        return self.freshness is None or self.freshness.is_stale

    @property
    def data_as_of_known(self) -> bool:
        """False when the extract carried no time of its own (``data_as_of`` is then only
        the import time): such data is always stale (hazard BULK-2)."""
        return self.data_as_of is not None and as_of_is_known(self.as_of_source)

    @property
    def is_damaged(self) -> bool:
        return bool(self.damage)

    def to_json(self) -> dict[str, Any]:
        return {
            "has_snapshot": self.has_snapshot,
            "damaged": self.is_damaged,
            "damage": self.damage or None,
            "data_as_of": (
                self.data_as_of.isoformat() if self.data_as_of and self.data_as_of_known else None
            ),
            "data_as_of_known": self.data_as_of_known if self.has_snapshot else None,
            "as_of_source": public_as_of_source(self.as_of_source) if self.has_snapshot else None,
            "data_as_of_source": self.as_of_source or None,
            "imported_at": self.imported_at.isoformat() if self.imported_at else None,
            "age_minutes": (
                round(self.freshness.age.total_seconds() / 60, 1)
                if self.freshness and self.data_as_of_known else None
            ),
            "stale": self.is_stale,
            "stale_threshold_minutes": self.freshness.stale_minutes if self.freshness else None,
            "counts": self.counts,
            "last_successful_refresh": (
                self.last_refresh_ok_at.isoformat() if self.last_refresh_ok_at else None
            ),
            "last_refresh_attempt": (
                self.last_refresh_attempt_at.isoformat() if self.last_refresh_attempt_at else None
            ),
            "last_refresh_failed": self.last_refresh_failed,
            "last_refresh_message": self.last_refresh_message or None,
        }


@dataclass(frozen=True, slots=True)
class PatientRow:
    """A patient with their current stay, as patient lists show them."""

    patient: Patient
    stay: Stay | None


@dataclass(frozen=True, slots=True)
class ImportResult:
    data_as_of: datetime
    as_of_source: str
    counts: dict[str, int]
    previous_patients: int | None
    skipped: dict[str, int]


def _dumps(obj: Any) -> str:
    return json.dumps(to_json(obj), ensure_ascii=False, separators=(",", ":"))


def _load(cls: type[T], text: str) -> T:
    return from_json(cls, json.loads(text))


def is_damage(exc: BaseException) -> bool:
    """A DatabaseError that means the file's pages are damaged (not a lock or a bug)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return type(exc) is DatabaseError


def damage_message(path: Path, exc: BaseException | str) -> str:
    return (
        f"the cache file {path} is damaged ({exc}): run 'paperfallback cache import' or "
        "'paperfallback cache refresh' to rebuild it; blank forms still print"
    )


def _guarded(
    method: Callable[Concatenate[CacheStore, P], T],
) -> Callable[Concatenate[CacheStore, P], T]:
    """Turn sqlcipher3 errors into CacheError, so callers (CLI, UI) show one clear line
    instead of a traceback, and a damaged page never reads as 'no patients'."""

    @functools.wraps(method)
    def wrapper(self: CacheStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(self, *args, **kwargs)
        except DatabaseError as exc:
            raise self._error(exc) from exc

    return wrapper


class CacheStore:
    """The ward cache in ``<data dir>/cache.db``, encrypted with SQLCipher."""

    def __init__(
        self, conn: Connection, path: Path, *, key: str = "",
        key_source: str = "the configured key",
    ) -> None:
        self._conn = conn
        self.path = path
        self._key = key  # kept to rebuild a damaged file (replace_snapshot)
        self._key_source = key_source

    def _error(self, exc: BaseException) -> CacheError:
        if is_damage(exc):
            log.error("cache file %s is damaged: %s", self.path, exc)
            return CacheError(damage_message(self.path, exc))
        return CacheError(f"cannot read or write the cache file {self.path}: {exc}")

    @classmethod
    def open(cls, folder: Path, key: str, *, key_source: str = "the configured key") -> CacheStore:
        return cls.open_path(folder / CACHE_FILE, key, key_source=key_source)

    @classmethod
    def open_path(
        cls, path: Path, key: str, *, key_source: str = "the configured key"
    ) -> CacheStore:
        return cls(_open_schema(path, key, key_source), path, key=key, key_source=key_source)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> CacheStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            with contextlib.suppress(DatabaseError):  # keep the first error, not the rollback's
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---- import -------------------------------------------------------------------------

    @_guarded
    def patient_count(self) -> int | None:
        return self._patient_count()

    def _patient_count(self) -> int | None:
        row = self._conn.execute("SELECT counts FROM snapshot WHERE id = 1").fetchone()
        if row is None:
            return None
        return int(json.loads(row[0]).get("patients", 0))

    def replace_snapshot(
        self,
        snapshot: Snapshot,
        *,
        force: bool = False,
        max_drop_share: float = 0.5,
        imported_at: datetime | None = None,
    ) -> ImportResult:
        """Replace the whole cache with ``snapshot`` in one transaction, or change nothing.

        Refuses (ImportRefused) an extract whose patient count fell by more than
        ``max_drop_share`` against the current snapshot unless ``force``: a silently
        partial extract must never replace a good one during an outage.
        """
        damaged: BaseException | None = None
        try:
            # A damaged page an in-place write does not touch would stay damaged: check
            # every page first (about 10 ms for the demo hospital).
            problem = self._integrity_problem()
            if problem:
                raise DatabaseError(problem)
            previous = self._patient_count()
        except DatabaseError as exc:
            if not is_damage(exc):
                raise self._error(exc) from exc
            previous, damaged = None, exc  # unreadable: no partial-extract guard possible
        new_count = len(snapshot.patients)
        if previous and not force and new_count < previous * (1 - max_drop_share):
            raise ImportRefused(
                f"the extract has {new_count} patients against {previous} in the current "
                f"snapshot (a fall of more than {max_drop_share:.0%}); it looks partial, so the "
                "current snapshot was kept. Import it anyway only if the fall is expected."
            )
        _check_references(snapshot)
        imported_at = imported_at or utc_now()
        if damaged is None:
            try:
                self._write_snapshot(snapshot, imported_at)
            except DatabaseError as exc:
                if not is_damage(exc):
                    raise self._error(exc) from exc
                damaged = exc
        if damaged is not None:
            self._rebuild(snapshot, imported_at, damaged)
        return ImportResult(
            data_as_of=snapshot.data_as_of,
            as_of_source=snapshot.as_of_source,
            counts=snapshot.counts(),
            previous_patients=previous,
            skipped=dict(snapshot.skipped),
        )

    def _write_snapshot(self, snapshot: Snapshot, imported_at: datetime) -> None:
        stays = {s.patient_id: s for s in snapshot.stays}
        with self._transaction() as db:
            for table in ("wards", "patients", "facts", "appointments", "theatre_cases"):
                db.execute(f"DELETE FROM {table}")
            db.executemany(
                "INSERT INTO wards VALUES (?, ?, ?)",
                ((w.code, fold(w.name), _dumps(w)) for w in snapshot.wards),
            )
            db.executemany(
                "INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_patient_row(p, stays.get(p.id)) for p in snapshot.patients),
            )
            db.executemany(
                "INSERT INTO facts VALUES (?, ?, ?, ?)",
                _fact_rows(snapshot),
            )
            db.executemany(
                "INSERT INTO appointments VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (a.id, a.patient_id, fold(a.clinic), a.start.date().isoformat(),
                     a.start.isoformat(), _dumps(a))
                    for a in snapshot.appointments
                ),
            )
            db.executemany(
                "INSERT INTO theatre_cases VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (t.id, t.patient_id, fold(t.theatre), t.session_date.isoformat(),
                     t.planned_order, _dumps(t))
                    for t in snapshot.theatre_cases
                ),
            )
            db.execute(
                "INSERT OR REPLACE INTO snapshot VALUES (1, ?, ?, ?, ?, ?, ?)",
                (
                    snapshot.data_as_of.isoformat(),
                    snapshot.as_of_source,
                    imported_at.isoformat(),
                    json.dumps(snapshot.counts()),
                    json.dumps(list(snapshot.sources)),
                    json.dumps(snapshot.skipped),
                ),
            )
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('spo2_scale', ?)",
                (json.dumps(snapshot.spo2_scale),),
            )
            # One row per patient too, found through meta's key index, so a record costs
            # the same whatever the hospital's size; the marker says the rows are complete
            # (a cache written before them has only the map above, decoded once).
            db.execute("DELETE FROM meta WHERE key >= ? AND key < ?", _SPO2_ROW_RANGE)
            db.executemany("INSERT INTO meta VALUES (?, ?)", (
                (_SPO2_ROW + pid, str(scale)) for pid, scale in snapshot.spo2_scale.items()))
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (_SPO2_ROWS_COMPLETE,))
        self._spo2_cache = None  # data_version does not change for this connection's writes

    def _rebuild(self, snapshot: Snapshot, imported_at: datetime, cause: BaseException) -> None:
        """Write ``snapshot`` into a fresh file and swap it for the damaged one.

        A damaged page cannot be fixed in place, and an import must be able to recover the
        PC without IT: the new file is written beside it (cache.db.new) and moved over
        cache.db with os.replace (atomic); the damaged file is kept as
        cache.db.damaged-<UTC time> for IT to inspect.
        """
        if not self._key:
            raise self._error(cause) from cause
        log.warning("rebuilding damaged cache file %s (%s)", self.path, cause)
        fresh = self.path.with_name(self.path.name + ".new")
        for leftover in _db_files(fresh):
            leftover.unlink(missing_ok=True)
        new = CacheStore.open_path(fresh, self._key, key_source=self._key_source)
        try:
            new._write_snapshot(snapshot, imported_at)
        except DatabaseError as exc:
            raise new._error(exc) from exc
        finally:
            new.close()  # the last close checkpoints the WAL into cache.db.new
        with contextlib.suppress(DatabaseError):
            self._conn.close()
        kept = self.path.with_name(
            f"{self.path.name}.damaged-{imported_at.strftime('%Y%m%dT%H%M%SZ')}"
        )
        try:
            try:
                os.link(self.path, kept)
            except OSError:
                shutil.copy2(self.path, kept)
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists():
                os.replace(wal, kept.with_name(kept.name + "-wal"))
            self.path.with_name(self.path.name + "-shm").unlink(missing_ok=True)
            os.replace(fresh, self.path)
        except OSError as exc:
            raise CacheError(
                f"could not replace the damaged cache file {self.path} ({exc}): close "
                "PaperFallback on this PC and run 'paperfallback cache import' again"
            ) from exc
        finally:
            self._conn = _open_schema(self.path, self._key, self._key_source)
        log.warning("damaged cache file kept as %s for IT", kept)

    def record_refresh(self, *, ok: bool, source: str, message: str = "") -> None:
        """Log a refresh attempt for monitoring (no patient data in ``message``).

        On a damaged file the entry is only logged: raising here would hide the error that
        made the attempt fail, and ``status`` reports the damage itself.
        """
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO refresh_log VALUES (?, ?, ?, ?)",
                    (utc_now().isoformat(), int(ok), source, message),
                )
                db.execute(
                    "DELETE FROM refresh_log WHERE rowid NOT IN "
                    "(SELECT rowid FROM refresh_log ORDER BY at DESC LIMIT 500)"
                )
        except DatabaseError as exc:
            log.error("could not record the refresh in %s (%s): ok=%s %s", self.path, exc,
                      ok, message)

    # ---- status -------------------------------------------------------------------------

    def status(
        self, *, stale_minutes: int = 60, now: datetime | None = None, verify: bool = False
    ) -> CacheStatus:
        """The snapshot's time, age and counts; a damaged file gives a status with
        ``damage`` set (never an exception), so monitoring and refresh can act on it.
        ``verify`` reads every page (PRAGMA quick_check), as ``cache status`` does."""
        now = now or utc_now()
        try:
            problem = self._integrity_problem() if verify else ""
            if not problem:
                return self._status(stale_minutes, now)
        except DatabaseError as exc:
            if not is_damage(exc):
                raise self._error(exc) from exc
            problem = str(exc)
        log.error("cache file %s is damaged: %s", self.path, problem)
        return CacheStatus(
            has_snapshot=False, data_as_of=None, as_of_source="", imported_at=None, counts={},
            freshness=None, last_refresh_ok_at=None, last_refresh_attempt_at=None,
            last_refresh_failed=False, last_refresh_message="",
            damage=damage_message(self.path, problem),
        )

    def _integrity_problem(self) -> str:
        rows = [r[0] for r in self._conn.execute("PRAGMA quick_check(5)").fetchall()]
        if rows == ["ok"]:
            return ""
        lines = [x.strip() for r in rows for x in r.splitlines() if x.strip()]
        lines = [x for x in lines if not x.startswith("***")] or ["integrity check failed"]
        more = f"; and {len(lines) - 1} more" if len(lines) > 1 else ""
        return f"integrity check: {lines[0][:200]}{more}"

    def _status(self, stale_minutes: int, now: datetime) -> CacheStatus:
        row = self._conn.execute(
            "SELECT data_as_of, as_of_source, imported_at, counts FROM snapshot WHERE id = 1"
        ).fetchone()
        last_ok = self._conn.execute(
            "SELECT max(at) FROM refresh_log WHERE ok = 1"
        ).fetchone()[0]
        last = self._conn.execute(
            "SELECT at, ok, message FROM refresh_log ORDER BY at DESC LIMIT 1"
        ).fetchone()
        data_as_of = datetime.fromisoformat(row[0]) if row else None
        imported_at = datetime.fromisoformat(row[2]) if row else None
        return CacheStatus(
            has_snapshot=row is not None,
            data_as_of=data_as_of,
            as_of_source=row[1] if row else "",
            imported_at=imported_at,
            counts=json.loads(row[3]) if row else {},
            freshness=(Freshness(data_as_of, now, stale_minutes,
                                 known=as_of_is_known(row[1])) if data_as_of else None),
            last_refresh_ok_at=(
                datetime.fromisoformat(last_ok) if last_ok else imported_at
            ),
            last_refresh_attempt_at=datetime.fromisoformat(last[0]) if last else imported_at,
            last_refresh_failed=bool(last and not last[1]),
            last_refresh_message=last[2] if last else "",
        )

    @_guarded
    def require_snapshot(self) -> None:
        if self._conn.execute("SELECT 1 FROM snapshot WHERE id = 1").fetchone() is None:
            raise NoCache(
                "no cache yet: run 'paperfallback demo' or 'paperfallback cache import PATH'"
            )

    # ---- wards and patients ---------------------------------------------------------------

    @_guarded
    def wards(self) -> list[Ward]:
        rows = self._conn.execute("SELECT data FROM wards ORDER BY code").fetchall()
        return [_load(Ward, r[0]) for r in rows]

    @_guarded
    def resolve_ward(self, text: str) -> Ward:
        """A ward by its code or its name (paperfallback.cache.wards: no guessing)."""
        from paperfallback.cache.wards import match_ward

        return match_ward(text, self.wards())

    @_guarded
    def patients(self, *, ward_code: str | None = None, search: str | None = None,
                 limit: int | None = None) -> list[PatientRow]:
        """Patients ordered by ward and bed; ``search`` matches a name prefix (family or
        given, accents ignored), an NHS number or a hospital number."""
        where, params = _patient_filter(ward_code, search)
        sql = "SELECT data, stay FROM patients" + where
        if limit:
            # Search-as-you-type: cut in SQL before decoding; inpatients first.
            sql += " ORDER BY ward_code IS NULL, ward_code, family_key, given_key LIMIT ?"
            params.append(limit)
        rows = self._conn.execute(sql, params).fetchall()
        result = [
            PatientRow(_load(Patient, r[0]), _load(Stay, r[1]) if r[1] else None) for r in rows
        ]
        result.sort(key=_row_order)
        return result

    @_guarded
    def patient_ids(self, *, ward_code: str | None = None, search: str | None = None) -> set[str]:
        """Ids of the patients a search matches, without decoding them (instant search)."""
        where, params = _patient_filter(ward_code, search)
        return {r[0] for r in self._conn.execute("SELECT id FROM patients" + where, params)}

    @_guarded
    def find_patient(self, identifier: str) -> Patient:
        """A patient by NHS number or hospital number (as typed)."""
        key = identifier_key(identifier)
        rows = self._conn.execute(
            "SELECT data FROM patients WHERE nhs_number = ? OR hospital_key = ?",
            (key, key),
        ).fetchall()
        if not rows:
            reject_bad_check_digit(identifier)
            raise InputError(f"no patient with NHS or hospital number {identifier!r} in the cache")
        if len(rows) > 1:
            # Never pick one silently: a form printed for the wrong patient is worse than none.
            raise InputError(
                f"{len(rows)} patients in the cache match NHS or hospital number "
                f"{identifier!r}; find the patient by name and print by the other number, "
                "and ask IT to check the extract for a duplicate registration"
            )
        return _load(Patient, rows[0][0])

    @_guarded
    def patient_record(self, patient_id: str) -> PatientRecord:
        row = self._conn.execute(
            "SELECT data, stay, ward_code FROM patients WHERE id = ?", (patient_id,)
        ).fetchone()
        if row is None:
            raise InputError(f"no patient {patient_id!r} in the cache")
        facts: dict[str, list[Any]] = {kind: [] for kind in _FACT_KINDS}
        for kind, data in self._conn.execute(
            "SELECT kind, data FROM facts WHERE patient_id = ? ORDER BY kind, sort_key",
            (patient_id,),
        ):
            facts[kind].append(_load(_FACT_KINDS[kind], data))
        ward = None
        if row[2]:
            ward_row = self._conn.execute(
                "SELECT data FROM wards WHERE code = ?", (row[2],)
            ).fetchone()
            ward = _load(Ward, ward_row[0]) if ward_row else None
        return PatientRecord(
            patient=_load(Patient, row[0]),
            stay=_load(Stay, row[1]) if row[1] else None,
            ward=ward,
            allergies=tuple(facts["allergy"]),
            alerts=tuple(facts["alert"]),
            prescriptions=tuple(facts["prescription"]),
            observations=tuple(facts["observation"]),
            spo2_scale=self._spo2_scale(patient_id),
        )

    def ward_records(self, ward_code: str) -> list[PatientRecord]:
        """Every patient on a ward with all their facts, in bed order."""
        return [self.patient_record(r.patient.id) for r in self.patients(ward_code=ward_code)]

    # (connection, its data_version, scales or None when the per-patient rows are complete)
    _spo2_cache: tuple[Connection, int, dict[str, int] | None] | None = None

    def _spo2_scale(self, patient_id: str) -> int | None:
        """One patient's SpO2 scale, at a cost that does not grow with the hospital
        (issue #15: decoding the whole hospital's map per record made a ward print grow
        with the hospital's size): one indexed row, or in a cache written before those
        rows, the map decoded once per snapshot."""
        scales = self._spo2_scales()
        if scales is not None:
            return scales.get(patient_id)
        row = self._conn.execute(
            "SELECT value FROM meta WHERE key = ?", (_SPO2_ROW + patient_id,)).fetchone()
        return int(row[0]) if row else None

    @_guarded
    def _spo2_scales(self) -> dict[str, int] | None:
        """The decoded map of a cache without per-patient rows; None when it has them.
        ``PRAGMA data_version`` changes when another process commits (a new snapshot
        while the app stays open), and this store's own writes clear the cache
        (``_write_snapshot``), so a new scale is never missed."""
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        cached = self._spo2_cache
        if cached is not None and cached[0] is self._conn and cached[1] == version:
            return cached[2]
        scales: dict[str, int] | None = None
        if self._conn.execute(
                "SELECT 1 FROM meta WHERE key = ?", (_SPO2_ROWS_COMPLETE,)).fetchone() is None:
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'spo2_scale'").fetchone()
            scales = {k: int(v) for k, v in json.loads(row[0]).items()} if row else {}
        self._spo2_cache = (self._conn, version, scales)
        return scales

    # ---- clinics and theatres -------------------------------------------------------------

    @_guarded
    def clinics(self) -> list[str]:
        rows = self._conn.execute("SELECT DISTINCT clinic_key FROM appointments").fetchall()
        names = {fold(_load(Appointment, d).clinic): _load(Appointment, d).clinic for d in (
            self._conn.execute(
                "SELECT data FROM appointments WHERE clinic_key = ? LIMIT 1", (r[0],)
            ).fetchone()[0] for r in rows
        )}
        return sorted(names.values(), key=str.casefold)

    @_guarded
    def appointments(self, clinic: str, day: date) -> list[tuple[Appointment, Patient]]:
        """A clinic's appointments on a day, by start time, with their patients."""
        rows = self._conn.execute(
            "SELECT a.data, p.data FROM appointments a JOIN patients p ON p.id = a.patient_id "
            "WHERE a.clinic_key = ? AND a.day = ? ORDER BY a.start",
            (fold(clinic), day.isoformat()),
        ).fetchall()
        return [(_load(Appointment, a), _load(Patient, p)) for a, p in rows]

    @_guarded
    def appointment_days(self, clinic: str) -> list[date]:
        rows = self._conn.execute(
            "SELECT DISTINCT day FROM appointments WHERE clinic_key = ? ORDER BY day",
            (fold(clinic),),
        ).fetchall()
        return [date.fromisoformat(r[0]) for r in rows]

    @_guarded
    def theatres(self) -> list[str]:
        rows = self._conn.execute(
            "SELECT data FROM theatre_cases GROUP BY theatre_key"
        ).fetchall()
        return sorted({_load(TheatreCase, r[0]).theatre for r in rows}, key=str.casefold)

    @_guarded
    def theatre_cases(self, theatre: str, day: date) -> list[tuple[TheatreCase, Patient]]:
        rows = self._conn.execute(
            "SELECT t.data, p.data FROM theatre_cases t JOIN patients p ON p.id = t.patient_id "
            "WHERE t.theatre_key = ? AND t.day = ? ORDER BY t.planned_order",
            (fold(theatre), day.isoformat()),
        ).fetchall()
        return [(_load(TheatreCase, t), _load(Patient, p)) for t, p in rows]

    @_guarded
    def theatre_days(self, theatre: str) -> list[date]:
        rows = self._conn.execute(
            "SELECT DISTINCT day FROM theatre_cases WHERE theatre_key = ? ORDER BY day",
            (fold(theatre),),
        ).fetchall()
        return [date.fromisoformat(r[0]) for r in rows]


def reject_bad_check_digit(text: str, where: str | None = None) -> None:
    """Ten digits that fail Modulus 11 were meant as an NHS number: say the check digit is
    wrong (a mistyped digit) rather than 'not in the cache' (NHS Data Dictionary, NHS NUMBER)."""
    digits = identifier_key(text)
    if len(digits) == 10 and digits.isdigit() and not is_valid(digits):
        raise InvalidNhsNumber(
            f"{text!r} is not a valid NHS number: the check digit is wrong (check for a "
            "mistyped digit)",
            where=where,
        )


def _open_schema(path: Path, key: str, key_source: str) -> Connection:
    conn = open_encrypted(path, key, key_source=key_source)
    try:
        conn.executescript(_SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
    except DatabaseError as exc:
        conn.close()
        raise CacheError(damage_message(path, exc)) from exc
    return conn


def _db_files(path: Path) -> list[Path]:
    """A database file with its WAL and shared-memory files."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _row_order(row: PatientRow) -> tuple[Any, ...]:
    stay = row.stay
    return (
        stay is None,
        stay.ward_code if stay else "",
        bed_sort_key(stay.bed) if stay else (),
        fold(row.patient.family),
        fold(row.patient.given),
    )


def _patient_filter(ward_code: str | None, search: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space, or empty) for a ward and a search."""
    clauses: list[str] = []
    params: list[Any] = []
    if ward_code is not None:
        clauses.append("ward_code = ?")
        params.append(ward_code)
    if search and search.strip():
        clause, extra = _search_clause(search)
        clauses.append(clause)
        params.extend(extra)
    where = " WHERE " + " AND ".join(f"({c})" for c in clauses) if clauses else ""
    return where, params


def _search_clause(search: str) -> tuple[str, list[Any]]:
    text = search.strip()
    key = identifier_key(text)
    clauses = ["hospital_key = ?"]
    params: list[Any] = [key]
    if key.isdigit():
        clauses.append("nhs_number >= ? AND nhs_number < ?")
        params += [key, key + ":"]  # ':' sorts after '9': a prefix range on the index
    folded = fold(text)
    if "," in folded:  # "family, given"
        family, _, given = (part.strip() for part in folded.partition(","))
        clauses.append("family_key >= ? AND family_key < ? AND given_key >= ? AND given_key < ?")
        params += [family, family + "\U0010ffff", given, given + "\U0010ffff"]
    elif folded:
        clauses.append("family_key >= ? AND family_key < ?")
        params += [folded, folded + "\U0010ffff"]
        clauses.append("given_key >= ? AND given_key < ?")
        params += [folded, folded + "\U0010ffff"]
    return " OR ".join(f"({c})" for c in clauses), params


def _patient_row(p: Patient, stay: Stay | None) -> tuple[Any, ...]:
    return (
        p.id,
        p.nhs_number,
        identifier_key(p.hospital_number) if p.hospital_number else None,
        fold(p.family),
        fold(p.given),
        stay.ward_code if stay else None,
        stay.bed if stay else None,
        _dumps(p),
        _dumps(stay) if stay else None,
    )


def _fact_rows(snapshot: Snapshot) -> Iterable[tuple[str, str, str, str]]:
    for a in snapshot.allergies:
        yield "allergy", a.patient_id, a.substance, _dumps(a)
    for f in snapshot.alerts:
        yield "alert", f.patient_id, f.text, _dumps(f)
    for m in snapshot.prescriptions:
        yield "prescription", m.patient_id, f"{m.kind}:{m.drug}", _dumps(m)
    for o in snapshot.observations:
        yield "observation", o.patient_id, o.effective.isoformat(), _dumps(o)


def _check_references(snapshot: Snapshot) -> None:
    """Every fact must point at a patient in the same snapshot (a broken reference matters)."""
    ids = {p.id for p in snapshot.patients}
    groups: tuple[tuple[str, Iterable[Any]], ...] = (
        ("stay", snapshot.stays), ("allergy", snapshot.allergies), ("alert", snapshot.alerts),
        ("prescription", snapshot.prescriptions), ("observation", snapshot.observations),
        ("appointment", snapshot.appointments), ("theatre case", snapshot.theatre_cases),
    )
    for name, items in groups:
        for item in items:
            if item.patient_id not in ids:
                raise InputError(
                    f"{name} {item.id!r} refers to patient {item.patient_id!r}, "
                    "who is not in the extract"
                )
    wards = {w.code for w in snapshot.wards}
    for stay in snapshot.stays:
        if stay.ward_code and stay.ward_code not in wards:
            raise InputError(
                f"stay {stay.id!r} refers to ward {stay.ward_code!r}, which is not in the extract"
            )


def age_in_years(birth: date, on: date) -> int:
    years = on.year - birth.year
    return years - ((on.month, on.day) < (birth.month, birth.day))

