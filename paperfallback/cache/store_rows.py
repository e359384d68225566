"""The cache's tables, and how snapshot facts become rows and searches become SQL.

Split from :mod:`paperfallback.cache.store` (which re-exports the public names): that
module opens, replaces and reads the file; this one is its row format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import orjson

from paperfallback.cache.search_keys import bed_sort_key, fold, identifier_key
from paperfallback.domain.codec import from_json, to_json
from paperfallback.domain.errors import InputError, InvalidNhsNumber
from paperfallback.domain.nhs_number import is_valid
from paperfallback.domain.records import (
    Alert,
    Allergy,
    Appointment,
    Observation,
    Patient,
    Prescription,
    Snapshot,
    Stay,
    TheatreCase,
    Ward,
)

T = TypeVar("T")
# SpO2 scale per patient in ``meta`` (cache.store reads them): 'spo2_scale:<patient id>'
_SPO2_ROW = "spo2_scale:"
_SPO2_ROW_RANGE = ("spo2_scale:", "spo2_scale;")  # ';' follows ':': every row's key between
_SPO2_ROWS_COMPLETE = "spo2_scale_rows"  # value: the import time of the snapshot they match


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

SCHEMA = """
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

FACT_KINDS: dict[str, type[Any]] = {
    "allergy": Allergy,
    "alert": Alert,
    "prescription": Prescription,
    "observation": Observation,
}

def _dumps(obj: Any) -> str:
    return json.dumps(to_json(obj), ensure_ascii=False, separators=(",", ":"))


def _load(cls: type[T], text: str) -> T:
    # orjson parses a ward's few thousand fact rows several times faster (issue #15);
    # rows it refuses (NaN, which json.dumps writes) are read as before.
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = json.loads(text)
    return from_json(cls, data)


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



def patient_row(p: Patient, stay: Stay | None) -> tuple[Any, ...]:
    ward_code, bed, stay_data = stay_columns(stay)
    return (
        p.id,
        p.nhs_number,
        identifier_key(p.hospital_number) if p.hospital_number else None,
        fold(p.family),
        fold(p.given),
        ward_code,
        bed,
        _dumps(p),
        stay_data,
    )


def stay_columns(stay: Stay | None) -> tuple[str | None, str | None, str | None]:
    """A patient row's ward code, bed and stay columns."""
    if stay is None:
        return None, None, None
    return stay.ward_code, stay.bed, _dumps(stay)



# A fact's sort key within its patient and kind (the order a form lists them in).
FACT_SORT: dict[str, Callable[[Any], str]] = {
    "allergy": lambda a: str(a.substance),
    "alert": lambda f: str(f.text),
    "prescription": lambda m: f"{m.kind}:{m.drug}",
    "observation": lambda o: str(o.effective.isoformat()),
}


def fact_row(kind: str, fact: Any) -> tuple[str, str, str, str]:
    return kind, fact.patient_id, FACT_SORT[kind](fact), _dumps(fact)


def ward_row(w: Ward) -> tuple[str, str, str]:
    return w.code, fold(w.name), _dumps(w)


def appointment_row(a: Appointment) -> tuple[Any, ...]:
    return (a.id, a.patient_id, fold(a.clinic), a.start.date().isoformat(),
            a.start.isoformat(), _dumps(a))


def theatre_row(t: TheatreCase) -> tuple[Any, ...]:
    return (t.id, t.patient_id, fold(t.theatre), t.session_date.isoformat(),
            t.planned_order, _dumps(t))


def _fact_rows(snapshot: Snapshot) -> Iterable[tuple[str, str, str, str]]:
    for kind, facts in (("allergy", snapshot.allergies), ("alert", snapshot.alerts),
                        ("prescription", snapshot.prescriptions),
                        ("observation", snapshot.observations)):
        for fact in facts:
            yield fact_row(kind, fact)



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


def _row_order(row: PatientRow) -> tuple[Any, ...]:
    stay = row.stay
    return (
        stay is None,
        stay.ward_code if stay else "",
        bed_sort_key(stay.bed) if stay else (),
        fold(row.patient.family),
        fold(row.patient.given),
    )


def write_snapshot_rows(db: Any, snapshot: Snapshot, imported_at: datetime) -> None:
    """Replace every table's rows with ``snapshot`` (inside the caller's transaction)."""
    stays = {s.patient_id: s for s in snapshot.stays}
    for table in ("wards", "patients", "facts", "appointments", "theatre_cases"):
        db.execute(f"DELETE FROM {table}")
    db.executemany("INSERT INTO wards VALUES (?, ?, ?)", map(ward_row, snapshot.wards))
    db.executemany(
        "INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (patient_row(p, stays.get(p.id)) for p in snapshot.patients),
    )
    db.executemany(
        "INSERT INTO facts VALUES (?, ?, ?, ?)",
        _fact_rows(snapshot),
    )
    db.executemany("INSERT INTO appointments VALUES (?, ?, ?, ?, ?, ?)",
                   map(appointment_row, snapshot.appointments))
    db.executemany("INSERT INTO theatre_cases VALUES (?, ?, ?, ?, ?, ?)",
                   map(theatre_row, snapshot.theatre_cases))
    write_snapshot_meta(db, snapshot.data_as_of, snapshot.as_of_source, imported_at,
                        snapshot.counts(), snapshot.sources, snapshot.skipped,
                        snapshot.spo2_scale)


def write_snapshot_meta(db: Any, data_as_of: datetime, as_of_source: str,
                        imported_at: datetime, counts: dict[str, int], sources: Iterable[str],
                        skipped: dict[str, int], spo2_scale: dict[str, int]) -> None:
    """The snapshot's own row and the SpO2 scales (after its records are written)."""
    db.execute(
        "INSERT OR REPLACE INTO snapshot VALUES (1, ?, ?, ?, ?, ?, ?)",
        (
            data_as_of.isoformat(),
            as_of_source,
            imported_at.isoformat(),
            json.dumps(counts),
            json.dumps(list(sources)),
            json.dumps(skipped),
        ),
    )
    db.execute(
        "INSERT OR REPLACE INTO meta VALUES ('spo2_scale', ?)",
        (json.dumps(spo2_scale),),
    )
    # One row per patient too, found through meta's key index, so a record costs
    # the same whatever the hospital's size; the marker (this snapshot's import
    # time) says the rows belong to this snapshot: a cache written before them, or
    # rewritten by an older version, has only the map above, decoded once.
    db.execute("DELETE FROM meta WHERE key >= ? AND key < ?", _SPO2_ROW_RANGE)
    db.executemany("INSERT INTO meta VALUES (?, ?)", (
        (_SPO2_ROW + pid, str(scale)) for pid, scale in spo2_scale.items()))
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
               (_SPO2_ROWS_COMPLETE, imported_at.isoformat()))
