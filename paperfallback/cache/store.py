"""The encrypted cache: one snapshot of the ward extract at a time, replaced atomically.

Facts are kept as JSON beside the few columns queries need (no migration per field).
Readers open the file read-only and never write on open, so a refresh never stops a
print; a file with damaged first pages still opens for an import, which rebuilds it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from paperfallback.cache import key_check
from paperfallback.cache.encrypted_db import (
    Connection,
    DatabaseError,
    damaged_message,
    fault,
    is_unreadable_pages,
    open_encrypted,
    refuse_unproven_key,
)
from paperfallback.cache.search_keys import fold, identifier_key
from paperfallback.cache.staleness import Freshness, as_of_is_known, utc_now
from paperfallback.cache.status import CacheStatus
from paperfallback.cache.store_rows import (
    FACT_KINDS,
    ImportResult,
    PatientRow,
    _check_references,
    _load,
    _patient_filter,
    _row_order,
    age_in_years,
    reject_bad_check_digit,
    write_snapshot_rows,
)
from paperfallback.cache.store_schema import db_files, empty_cache, open_schema
from paperfallback.domain.errors import (
    CacheError,
    DamagedFile,
    ImportRefused,
    InputError,
    NoCache,
    StorageFault,
)
from paperfallback.domain.records import (
    Appointment,
    Patient,
    PatientRecord,
    Snapshot,
    Stay,
    TheatreCase,
    Ward,
)

__all__ = ["CACHE_FILE", "CacheStatus", "CacheStore", "ImportResult", "PatientRow",
           "age_in_years", "reject_bad_check_digit"]

CACHE_FILE = "cache.db"
# SpO2 scale per patient in ``meta``: key 'spo2_scale:<patient id>', value '1' or '2'
_SPO2_ROW = "spo2_scale:"
_SPO2_ROW_RANGE = ("spo2_scale:", "spo2_scale;")  # ';' follows ':': every row's key between
_SPO2_ROWS_COMPLETE = "spo2_scale_rows"  # value: the import time of the snapshot they match
# The patient's scale row and whether the rows are this snapshot's, read with the patient
# (parameters: _SPO2_ROW, _SPO2_ROWS_COMPLETE): no extra query per record.
_SPO2_COLUMNS = (
    "(SELECT value FROM meta WHERE key = ? || patients.id), "
    "(SELECT m.value = s.imported_at FROM meta m, snapshot s WHERE m.key = ? AND s.id = 1)"
)
T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger(__name__)


is_damage = is_unreadable_pages  # in a file the key opened: damaged pages
damage_message = damaged_message


def _guarded(
    method: Callable[Concatenate[CacheStore, P], T],
) -> Callable[Concatenate[CacheStore, P], T]:
    """Turn sqlcipher3 errors into CacheError, so callers (CLI, UI) show one clear line
    instead of a traceback, and a damaged page never reads as 'no patients'."""

    @functools.wraps(method)
    def wrapper(self: CacheStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._conn is None:
            raise self._damaged or CacheError(f"{self.path} is not open")
        try:
            return method(self, *args, **kwargs)
        except DatabaseError as exc:
            raise self._error(exc) from exc

    return wrapper


class CacheStore:
    """The ward cache in ``<data dir>/cache.db``, encrypted with SQLCipher."""

    def __init__(
        self, conn: Connection | None, path: Path, *, key: str = "",
        key_source: str = "the configured key", damaged: StorageFault | None = None,
    ) -> None:
        self._conn: Connection = conn  # None: damaged beyond opening; only an import helps
        self.path = path
        self._key = key  # kept to rebuild a damaged file (replace_snapshot)
        self._key_source = key_source
        self._damaged = damaged
        self.stand_in = False  # True: no file yet, an empty cache in memory (reopen later)

    def _error(self, exc: BaseException) -> CacheError:
        if is_damage(exc):  # the key opened this file: damaged pages, not a wrong key
            log.error("cache file %s is damaged: %s", self.path, exc)
            return DamagedFile(damage_message(self.path, exc))
        return fault(exc, self.path)

    @classmethod
    def open(cls, folder: Path, key: str, *, key_source: str = "the configured key",
             readonly: bool = False) -> CacheStore:
        """Open for an import (``readonly=False``: created if missing, opened even when
        damaged so the import can rebuild it) or for reading (never written, never
        created: a missing file reads as an empty cache)."""
        return cls.open_path(folder / CACHE_FILE, key, key_source=key_source,
                             readonly=readonly)

    @classmethod
    def open_path(
        cls, path: Path, key: str, *, key_source: str = "the configured key",
        readonly: bool = False,
    ) -> CacheStore:
        if readonly and not path.exists():
            refuse_unproven_key(path, key, key_source)  # a wrong key is not "no cache"
            key_check.remember(path.parent, key)  # the first key used is this folder's
            empty = cls(empty_cache(), path, key=key, key_source=key_source)
            empty.stand_in = True
            return empty
        if readonly:
            conn = open_encrypted(path, key, key_source=key_source, readonly=True)
            return cls(conn, path, key=key, key_source=key_source)
        try:
            conn = open_schema(path, key, key_source)
        except DamagedFile as exc:  # the key is proven: an import may replace the file
            log.error("%s", exc)
            return cls(None, path, key=key, key_source=key_source, damaged=exc)
        return cls(conn, path, key=key, key_source=key_source)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(DatabaseError):
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
        _check_references(snapshot)

        def write(db: Connection, at: datetime) -> ImportResult:
            write_snapshot_rows(db, snapshot, at)
            return ImportResult(snapshot.data_as_of, snapshot.as_of_source,
                                snapshot.counts(), None, dict(snapshot.skipped))

        return self._replace(write, force, max_drop_share, imported_at)

    def import_extract(
        self, paths: Sequence[Path], *, force: bool = False, max_drop_share: float = 0.5,
        imported_at: datetime | None = None, **read: Any,
    ) -> ImportResult:
        """Read the extract at ``paths`` straight into the cache, a batch at a time, in one
        transaction (cache.snapshot_writer: memory does not grow with the extract); the
        same guards and all-or-nothing as ``replace_snapshot``. ``read``: as_of,
        hospital_number_systems, now, policy, accept (importers.stream_extract)."""
        from paperfallback.cache.snapshot_writer import write_extract

        return self._replace(lambda db, at: write_extract(db, paths, at, **read),
                             force, max_drop_share, imported_at)

    def _replace(self, write: Callable[[Connection, datetime], ImportResult], force: bool,
                 max_drop_share: float, imported_at: datetime | None) -> ImportResult:
        damaged: BaseException | None = self._damaged
        try:
            if self._conn is None:
                raise DatabaseError(str(self._damaged))
            # A damaged page an in-place write does not touch would stay damaged: check
            # every page first (about 10 ms for the demo hospital).
            problem = self._integrity_problem()
            if problem:
                raise DatabaseError(problem)
            previous = self._patient_count()
        except DatabaseError as exc:
            if not is_damage(exc) and self._conn is not None:
                raise self._error(exc) from exc
            previous, damaged = None, damaged or exc  # unreadable: no partial-extract guard

        def guarded(db: Connection, at: datetime) -> ImportResult:
            result = write(db, at)
            new_count = result.counts["patients"]
            if previous and not force and new_count < previous * (1 - max_drop_share):
                raise ImportRefused(
                    f"the extract has {new_count} patients against {previous} in the current "
                    f"snapshot (a fall of more than {max_drop_share:.0%}); it looks partial, so "
                    "the current snapshot was kept. Import it anyway only if the fall is "
                    "expected.")
            return dataclasses.replace(result, previous_patients=previous)

        imported_at = imported_at or utc_now()
        if damaged is None:
            try:
                return self._write(guarded, imported_at)
            except DatabaseError as exc:
                if not is_damage(exc):
                    raise self._error(exc) from exc
                damaged = exc
        return self._rebuild(guarded, imported_at, damaged)

    def _write(self, write: Callable[[Connection, datetime], ImportResult],
               imported_at: datetime) -> ImportResult:
        with self._transaction() as db:
            result = write(db, imported_at)
        self._spo2_cache = None  # data_version does not change for this connection's writes
        return result

    def _rebuild(self, write: Callable[[Connection, datetime], ImportResult],
                 imported_at: datetime, cause: BaseException) -> ImportResult:
        """Write the new snapshot into a fresh file and swap it for the damaged one.

        A damaged page cannot be fixed in place, and an import must be able to recover the
        PC without IT: the new file is written beside it (cache.db.new) and moved over
        cache.db with os.replace (atomic); the damaged file is kept as
        cache.db.damaged-<UTC time> for IT to inspect.
        """
        if not self._key:
            raise self._error(cause) from cause
        log.warning("rebuilding damaged cache file %s (%s)", self.path, cause)
        fresh = self.path.with_name(self.path.name + ".new")
        for leftover in db_files(fresh):
            leftover.unlink(missing_ok=True)
        new = CacheStore.open_path(fresh, self._key, key_source=self._key_source)
        try:
            result = new._write(write, imported_at)
        except DatabaseError as exc:
            raise new._error(exc) from exc
        finally:
            new.close()  # the last close checkpoints the WAL into cache.db.new
        self.close()
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
            self._conn = open_schema(self.path, self._key, self._key_source)
            self._damaged = None
        log.warning("damaged cache file kept as %s for IT", kept)
        return result

    def record_refresh(self, *, ok: bool, source: str, message: str = "") -> None:
        """Log a refresh attempt for monitoring (no patient data in ``message``).

        On a damaged file the entry is only logged: raising here would hide the error that
        made the attempt fail, and ``status`` reports the damage itself.
        """
        if self._conn is None:
            log.error("refresh not recorded in damaged %s: ok=%s %s", self.path, ok, message)
            return
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
            if self._conn is None:
                raise DatabaseError(str(self._damaged))
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
            damage=str(self._damaged) if self._damaged else damage_message(self.path, problem),
            fault="damaged",
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
            "SELECT data, stay, ward_code, " + _SPO2_COLUMNS + " FROM patients WHERE id = ?",
            (_SPO2_ROW, _SPO2_ROWS_COMPLETE, patient_id),
        ).fetchone()
        if row is None:
            raise InputError(f"no patient {patient_id!r} in the cache")
        facts: dict[str, list[Any]] = {kind: [] for kind in FACT_KINDS}
        for kind, data in self._conn.execute(
            "SELECT kind, data FROM facts WHERE patient_id = ? ORDER BY kind, sort_key",
            (patient_id,),
        ):
            facts[kind].append(_load(FACT_KINDS[kind], data))
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
            spo2_scale=self._spo2_scale(patient_id, row[3], row[4]),
        )

    def ward_records(self, ward_code: str) -> list[PatientRecord]:
        """Every patient on a ward with all their facts, in bed order."""
        return [self.patient_record(r.patient.id) for r in self.patients(ward_code=ward_code)]

    # (connection, its data_version, the decoded map) of a cache without per-patient rows
    _spo2_cache: tuple[Connection, int, dict[str, int]] | None = None

    def _spo2_scale(self, patient_id: str, stored: str | None, rows_current: int | None,
                    ) -> int | None:
        """One patient's SpO2 scale at a cost that does not grow with the hospital (issue
        #15: decoding the whole hospital's map per record made a ward print grow with the
        hospital's size): the patient's own row, read with the patient (``_SPO2_COLUMNS``);
        in a cache without current rows, the map, decoded once per snapshot."""
        if rows_current:
            return int(stored) if stored else None
        return self._spo2_map().get(patient_id)

    @_guarded
    def _spo2_map(self) -> dict[str, int]:
        """The decoded map of a cache without current per-patient rows. ``PRAGMA
        data_version`` changes when another process commits (a new snapshot while the app
        stays open), and this store's own writes clear it (``_write_snapshot``), so a new
        scale is never missed."""
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        cached = self._spo2_cache
        if cached is not None and cached[0] is self._conn and cached[1] == version:
            return cached[2]
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'spo2_scale'").fetchone()
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
