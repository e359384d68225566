"""The register of issued form instances, and the per-PC counters that allocate their IDs.

Both live in the work store (:class:`~paperfallback.workstore.WorkStore`), which an import
never replaces.
Allocation commits the counter at once, so an ID handed to a preview is never handed out
again even if that preview is thrown away; the form itself is recorded only when the
caller confirms it was printed or saved (:meth:`Register.record`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from paperfallback.domain.codec import from_json, to_json
from paperfallback.domain.errors import InputError
from paperfallback.register.ids import (
    derived_pc_code,
    format_downtime_number,
    format_instance_id,
    normalise_pc_code,
    validate_instance_id,
)
from paperfallback.register.reservation import UNREGISTERED_FLOOR, top_up
from paperfallback.settings import Settings
from paperfallback.workstore import WorkStore

log = logging.getLogger(__name__)



# The ward pack cover sheet carries an ID and a QR like every page, but nothing on it is
# keyed back: reconciliation does not count it as a form to come back.
COVER_FORM_ID = "pack-cover"


@dataclass(frozen=True, slots=True)
class IssuedForm:
    """One printed form instance: what keying needs to know about the paper it holds.

    ``rows`` lists, in print order, the cached record each pre-filled table row stands for
    (``"<section>:<record id>"``, e.g. ``"regular:rx-17"``), so a keyed row maps back to its
    prescription, patient, appointment or case. ``prefilled_times`` are the time points
    of pre-filled chart columns (ISO 8601), oldest first.
    """

    instance_id: str
    form_id: str
    form_version: str
    scope: str  # patient, ward, clinic-day, theatre-day, blank
    page_count: int
    printed_at: datetime
    pc_id: str
    data_as_of: datetime | None = None
    patient_id: str | None = None
    nhs_number: str | None = None
    hospital_number: str | None = None
    patient_name: str = ""
    ward_code: str = ""
    bed: str = ""
    clinic: str = ""
    theatre: str = ""
    session_date: date | None = None
    downtime_number: str | None = None
    blank_columns: int = 0  # blank time columns (NEWS2) or rows (tables) printed in all
    prefilled_columns: int = 0  # pre-filled time columns (chart) or cached rows (table)
    prefilled_times: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    stale: bool = False  # the page carried the STALE DATA warning
    copy: int = 1
    extra: dict[str, str] = field(default_factory=dict)
    # The SpO2 scale printed on a NEWS2 chart (1 or 2), decided once at print time; every
    # later path scores the chart's columns on it unless a column's "Scale used" is keyed
    # (paperfallback.domain.news2_input). None: a blank copy, or printed by a version
    # before 0.x recorded it (old work.db rows have no such key and read back as None).
    spo2_scale: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data


class IdAllocator(Protocol):
    """Hands out IDs: the renderer calls it once per form instance (or downtime number)."""

    def instance_id(self) -> str: ...

    def downtime_number(self) -> str: ...


@runtime_checkable
class BatchIdAllocator(IdAllocator, Protocol):
    """An allocator that can reserve a pack's IDs at once (the Register does)."""

    def reserve(self, forms: int, downtime: int = 0) -> None: ...


def pc_code_for(settings: Settings) -> str:
    """The PC code from settings, or one derived from ``pc_id`` when IT left it empty."""
    if settings.pc_code.strip():
        return normalise_pc_code(settings.pc_code)
    return derived_pc_code(settings.pc_id)


class Register:
    """Issued forms and ID counters in ``work.db``."""

    def __init__(self, work: WorkStore, *, pc_code: str, pc_id: str = "") -> None:
        self.work = work  # keyed entries share it: see reentry.observations
        self._conn = work.connection
        self.pc_code = normalise_pc_code(pc_code)
        self.pc_id = pc_id
        self._pools: dict[str, list[int]] = {}

    @classmethod
    def open(cls, folder: Path, key: str, settings: Settings, *,
             key_source: str = "the configured key") -> Register:
        """A Register over its own WorkStore, closed with it."""
        work = WorkStore.open(folder, key, key_source=key_source)
        register = cls(work, pc_code=pc_code_for(settings), pc_id=settings.pc_id)
        top_up(register, folder)  # blank forms' reserve of IDs (register.reservation)
        return register

    def close(self) -> None:
        self.work.close()

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- allocation (IdAllocator) -----------------------------------------------------

    def _take(self, series: str, count: int) -> range:
        """Reserve ``count`` numbers of a series in one committed transaction."""
        with self.work.transaction() as db:
            row = db.execute(
                "SELECT next FROM id_counters WHERE series = ?", (series,)
            ).fetchone()
            number = int(row[0]) if row else 1
            if number + count - 1 > UNREGISTERED_FLOOR:
                raise InputError(f"this PC has used every {series} number; ask IT for a new "
                                 "PC code")
            db.execute(
                "INSERT OR REPLACE INTO id_counters VALUES (?, ?)", (series, number + count)
            )
        return range(number, number + count)

    def take_block(self, kind: str, count: int) -> range:
        """Set aside ``count`` numbers of this PC's ``kind`` ("form", "downtime") series."""
        return self._take(f"{kind}:{self.pc_code}", count)

    def _next(self, series: str) -> int:
        pool = self._pools.setdefault(series, [])
        if not pool:
            pool.extend(self._take(series, 1))
        return pool.pop(0)

    def reserve(self, forms: int, downtime: int = 0) -> None:
        """Reserve IDs for a pack ahead in one transaction (a commit per ID is slow).

        Reserved IDs not used before this Register is closed are simply never issued.
        """
        for series, count in ((f"form:{self.pc_code}", forms),
                              (f"downtime:{self.pc_code}", downtime)):
            if count > 0:
                self._pools.setdefault(series, []).extend(self._take(series, count))

    def instance_id(self) -> str:
        """The next form-instance ID of this PC (reserved and committed before use)."""
        return format_instance_id(self.pc_code, self._next(f"form:{self.pc_code}"))

    def downtime_number(self) -> str:
        """The next downtime registration number of this PC."""
        return format_downtime_number(self.pc_code, self._next(f"downtime:{self.pc_code}"))

    # ---- the register -----------------------------------------------------------------

    def record(self, issued: IssuedForm | Iterable[IssuedForm]) -> int:
        """Record forms the caller has printed or saved; returns how many were new.

        Recording the same instance again changes nothing (a reprint of a saved pack).
        """
        items = [issued] if isinstance(issued, IssuedForm) else list(issued)
        with self.work.transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO issued_forms VALUES (?, ?, ?, ?, ?)",
                (
                    (i.instance_id, i.form_id, i.patient_id, i.printed_at.isoformat(),
                     json.dumps(i.to_json(), ensure_ascii=False))
                    for i in items
                ),
            )
            added = int(db.total_changes - before)
        log.info("%s", recorded_line(items, added))
        return added

    def get(self, instance_id: str) -> IssuedForm | None:
        """The issued form with this ID (typed in any accepted spelling), or None."""
        normal = validate_instance_id(instance_id)
        row = self._conn.execute(
            "SELECT data FROM issued_forms WHERE instance_id = ?", (normal,)
        ).fetchone()
        return _issued_from(row[0]) if row else None

    def get_many(self, instance_ids: Iterable[str]) -> dict[str, IssuedForm]:
        """The issued forms among ``instance_ids`` (as stored: normalised IDs), in one
        query per 500: an export reads the forms it exports, not the whole register
        (each holds its page layout; issue 15)."""
        wanted = list(dict.fromkeys(instance_ids))
        found: dict[str, IssuedForm] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for instance_id, data in self._conn.execute(
                    "SELECT instance_id, data FROM issued_forms WHERE instance_id IN "
                    f"({', '.join('?' * len(chunk))})", chunk):
                found[str(instance_id)] = _issued_from(data)
        return found

    def require(self, instance_id: str) -> IssuedForm:
        issued = self.get(instance_id)
        if issued is None:
            raise InputError(
                f"form ID {instance_id!r} is not in this PC's register: was it printed on "
                "another PC? Import that PC's register or key it there"
            )
        return issued

    def list(self, *, form_id: str | None = None,
             patient_id: str | None = None) -> list[IssuedForm]:
        """Issued forms, oldest first."""
        sql = "SELECT data FROM issued_forms"
        clauses, params = [], []
        if form_id:
            clauses.append("form_id = ?")
            params.append(form_id)
        if patient_id:
            clauses.append("patient_id = ?")
            params.append(patient_id)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY printed_at, instance_id"
        return [
            _issued_from(r[0])
            for r in self._conn.execute(sql, params).fetchall()
        ]


def printed_spo2_scales(work: WorkStore) -> dict[str, int]:
    """Instance ID -> the SpO2 scale printed on that chart, for every issued form that
    recorded one (read-only; a work store without a register gives none)."""
    conn = work.connection
    known = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'issued_forms'"
    ).fetchone()
    if known is None:
        return {}
    out: dict[str, int] = {}
    for instance_id, data in conn.execute("SELECT instance_id, data FROM issued_forms"):
        scale = json.loads(data).get("spo2_scale")
        if scale in (1, 2):
            out[str(instance_id)] = int(scale)
    return out


def recorded_line(items: list[IssuedForm], added: int) -> str:
    """The log line for recorded forms: IT traces a sheet of paper by its instance ID.
    Form ids and instance IDs only, never a patient's name or number (paperfallback.logs)."""
    by_form: dict[str, list[str]] = {}
    for item in items:
        by_form.setdefault(item.form_id, []).append(item.instance_id)
    listed = "; ".join(f"{form} ({len(ids)}) {' '.join(ids)}" for form, ids in by_form.items())
    return (f"register: recorded {added} new of {len(items)} printed form instances"
            + (f": {listed}" if listed else ""))


@dataclass
class MemoryAllocator:
    """An in-memory IdAllocator for previews in tests and benchmarks (never for printing)."""

    pc_code: str = "T1"
    next_form: int = 1
    next_downtime: int = 1
    issued: list[str] = field(default_factory=list)

    def instance_id(self) -> str:
        value = format_instance_id(self.pc_code, self.next_form)
        self.next_form += 1
        self.issued.append(value)
        return value

    def downtime_number(self) -> str:
        value = format_downtime_number(self.pc_code, self.next_downtime)
        self.next_downtime += 1
        return value


def _issued_from(text: str) -> IssuedForm:
    """An issued form as the register row keeps it (JSON of IssuedForm.to_json)."""
    return from_json(IssuedForm, json.loads(text))
