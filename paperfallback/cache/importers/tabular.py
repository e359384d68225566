"""The CSV and xlsx layout for trusts whose EPR can only produce reports.

One table per kind (``patients``, ``stays``, ``allergies``, ``alerts``, ``prescriptions``,
``observations``, ``appointments``, ``theatre_cases``, optionally ``wards``): a CSV file
named after the table (``patients.csv`` ...) or an xlsx sheet of that name. The first row
holds the documented column names (docs/formats.md); dates are ISO 8601 (YYYY-MM-DD),
times ISO 8601 (a time without an offset is UK local time). Extra columns are skipped and
counted; other files and sheets are skipped and listed.

Tables are read a row at a time into the import's Output (CSV through ``csv.reader`` over
the open file, xlsx in openpyxl's read-only mode), never held whole (issue 15).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from paperfallback.cache.importers import workbook_limits
from paperfallback.cache.importers.as_of import aware, parse_date, parse_datetime
from paperfallback.cache.importers.fhir_collect import Output
from paperfallback.cache.importers.fhir_values import safe_unit
from paperfallback.cache.importers.identity import death_from_cell, name_fields
from paperfallback.cache.importers.parts import Parts
from paperfallback.cache.importers.policy import ImportPolicy
from paperfallback.cache.importers.staging import Staging
from paperfallback.domain.errors import InputError, InvalidNhsNumber
from paperfallback.domain.names import clean_name
from paperfallback.domain.nhs_number import normalise
from paperfallback.domain.plausible import (
    CHECK_DOSE,
    CHECK_DOSE_NOTE,
    dose_text_problem,
    reading_problem,
)
from paperfallback.domain.records import (
    Alert,
    Allergy,
    Appointment,
    NextOfKin,
    Observation,
    ObservationKind,
    Patient,
    Phone,
    Prescription,
    PrescriptionKind,
    Sex,
    Stay,
    TheatreCase,
    Ward,
)

Cell = Any
Convert = Callable[[str, str], Any]  # (text, where) -> value


def _text(value: str, where: str) -> str:
    return value


def _date(value: str, where: str) -> date | None:
    return parse_date(value, field_name="date", where=where) if value else None


def _datetime(value: str, where: str) -> datetime | None:
    return parse_datetime(value, field_name="date-time", where=where) if value else None


def _number(value: str, where: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{value!r} is not a number", where=where) from None


def _integer(value: str, where: str) -> int | None:
    number = _number(value, where)
    if number is None:
        return None
    if not number.is_integer():
        raise InputError(f"{value!r} is not a whole number", where=where)
    return int(number)


def _flag(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("", "0", "no", "n", "false"):
        return False
    if lowered in ("1", "yes", "y", "true"):
        return True
    raise InputError(f"{value!r} is not yes or no", where=where)


def _nhs(value: str, where: str) -> str | None:
    if not value.strip():
        return None
    try:
        return normalise(value)
    except InvalidNhsNumber as exc:
        raise InvalidNhsNumber(str(exc), where=where) from None


def _choice(kind: type[Any]) -> Convert:
    def convert(value: str, where: str) -> Any:
        try:
            return kind(value.strip().lower()) if value.strip() else None
        except ValueError:
            allowed = ", ".join(k.value for k in kind)
            raise InputError(f"{value!r} is not one of: {allowed}", where=where) from None

    return convert


def _times(value: str, where: str) -> tuple[str, ...]:
    out = []
    for part in value.replace(";", " ").replace(",", " ").split():
        try:
            hour, minute = (int(x) for x in part.split(":")[:2])
        except ValueError:
            raise InputError(f"{part!r} is not a time (HH:MM)", where=where) from None
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise InputError(f"{part!r} is not a time (HH:MM)", where=where)
        out.append(f"{hour:02d}:{minute:02d}")
    return tuple(out)


@dataclass(frozen=True)
class Column:
    name: str
    convert: Convert = _text
    required: bool = False


S = Column
TABLES: dict[str, tuple[Column, ...]] = {
    "wards": (S("code", required=True), S("name", required=True), S("site")),
    "patients": (
        S("id"), S("nhs_number", _nhs), S("hospital_number"), S("family", required=True),
        S("given"), S("birth_date", _date), S("sex", _choice(Sex)), S("address"),
        S("phone"), S("mobile"), S("next_of_kin_name"), S("next_of_kin_relationship"),
        S("next_of_kin_phone"), S("gp_practice"), S("spo2_scale", _integer),
        S("deceased", death_from_cell), S("source_time", _datetime),
    ),
    "stays": (
        S("id"), S("patient_id", required=True), S("ward_code", required=True), S("ward_name"),
        S("bed"), S("site"), S("consultant"), S("specialty"), S("admitted_at", _datetime),
        S("source_time", _datetime),
    ),
    "allergies": (
        S("id"), S("patient_id", required=True), S("substance", required=True), S("reaction"),
        S("severity"), S("criticality"), S("category"), S("no_known_allergies", _flag),
        S("source_time", _datetime),
    ),
    "alerts": (
        S("id"), S("patient_id", required=True), S("text", required=True), S("category"),
        S("code"), S("source_time", _datetime),
    ),
    "prescriptions": (
        S("id"), S("patient_id", required=True), S("drug", required=True), S("dose"),
        S("route"), S("frequency"), S("dose_times", _times),
        S("kind", _choice(PrescriptionKind)), S("prn_indication"), S("prn_max_24h"),
        S("start_date", _date), S("last_administered", _datetime), S("prescriber"),
        S("instructions"), S("drug_code"), S("source_time", _datetime),
    ),
    "observations": (
        S("id"), S("patient_id", required=True), S("kind", _choice(ObservationKind), True),
        S("effective", _datetime, True), S("value", _number), S("text"), S("unit"),
        S("source_time", _datetime),
    ),
    "appointments": (
        S("id"), S("patient_id", required=True), S("clinic", required=True),
        S("start", _datetime, True), S("end", _datetime), S("clinician"), S("location"),
        S("status"), S("description"), S("source_time", _datetime),
    ),
    "theatre_cases": (
        S("id"), S("patient_id", required=True), S("theatre", required=True),
        S("session_date", _date, True), S("planned_order", _integer, True),
        S("procedure", required=True), S("planned_start", _datetime), S("surgeon"),
        S("anaesthetist"), S("status"), S("source_time", _datetime),
    ),
}


def read_tables(paths: list[Path], out: Output, staging: Staging, *, policy: ImportPolicy,
                as_of: datetime) -> None:
    """Every known table in the CSV files and xlsx workbooks given, into ``out`` a row at
    a time (issue 15: a table is never held whole). Patients tables are read first, as a
    fact row is kept only when its patient is in them; which ids were seen waits in
    ``staging``, so that a duplicate id is refused naming both rows."""
    rows = _RowSink(out, staging, policy, as_of)
    for patients in (True, False):  # the patients tables first, then the rest
        for path in paths:
            if path.suffix.lower() != ".csv":
                _read_workbook(path, rows, patients)
                continue
            table = path.stem.lower()
            if table not in TABLES:
                if not patients:
                    out.skipped[f"file {path.name} (not a known table)"] += 1
                continue
            if (table == "patients") == patients:
                rows.read(table, _csv_rows(path), _csv_where(path), path.name)
    rows.done()


class _RowSink:
    """Rows into the import's Output as they are read: each row's checks, the observation
    window and the patient filter, row by row (what ``Parts`` once did at the end)."""

    def __init__(self, out: Output, staging: Staging, policy: ImportPolicy,
                 as_of: datetime) -> None:
        from paperfallback.cache.importers.as_of import window_start

        self.out, self.staging, self.policy = out, staging, policy
        self.oldest = (window_start(as_of, policy.observation_hours)
                       if policy.observation_hours is not None else None)
        self.patient_ids: set[str] = set()  # of the patients tables: facts must name one
        self.seen_nhs: dict[str, tuple[str, str]] = {}  # NHS number -> (patient id, where)
        self.ids: dict[str, tuple[str, str]] = {}  # "table/id" -> (id, where), this batch
        self.row = Parts()

    def read(self, table: str, rows: Iterator[list[str]], where: Callable[[int, str], str],
             label: str) -> None:
        try:
            _read_table(table, rows, self, where, label)
        except InputError:
            self.check_ids()  # a duplicate id in an earlier row is the first problem
            raise

    def take(self, table: str, number: int, where: Callable[[int, str], str],
             values: dict[str, Any]) -> None:
        """One row's values: built, checked and written (or skipped and counted)."""
        row = self.row
        _ROW_BUILDERS[table](values, number, row)
        if table in ("prescriptions", "observations"):
            _check_amounts(table, row, functools.partial(where, number))
        if table in _ID_TABLES and (values.get("id") or (table == "patients" and (
                values.get("hospital_number") or values.get("nhs_number")))):
            record = getattr(row, table)[-1] if getattr(row, table) else None
            if record is not None:
                self.check_unique_id(table, record.id, where(number, ""))
        if table == "patients":
            _check_unique_nhs(row.patients[-1], where(number, ""), self.seen_nhs)
            self.patient_ids.update(p.id for p in row.patients)
        self._emit(table)

    def _emit(self, table: str) -> None:
        """The row's record (a stay also gives its ward) into ``out``, unless it is older
        than the observation window or about a patient not in the patients tables."""
        row, out = self.row, self.out
        items = getattr(row, table)
        if table == "observations" and items and self.oldest is not None:
            kept = [o for o in items if o.effective >= self.oldest]
            if len(kept) != len(items):
                out.skipped[f"Observation older than {self.policy.observation_hours:g} h "
                            "before data-as-of"] += len(items) - len(kept)
            items = kept
        if table in _FACT_TABLES and items:
            kept = [i for i in items if i.patient_id in self.patient_ids]
            if len(kept) != len(items):
                out.skipped[f"{table} row about a patient not in the patients table"] += (
                    len(items) - len(kept))
            items = kept
        if items:
            getattr(out, table).extend(items)
        getattr(row, table).clear()
        if row.wards:
            out.wards.extend(row.wards)
            row.wards.clear()
        if row.spo2_scale:
            out.spo2_scale.update(row.spo2_scale)
            row.spo2_scale.clear()
        if row.skipped:
            out.skipped.update(row.skipped)
            row.skipped.clear()

    def check_unique_id(self, table: str, rid: str, where: str) -> None:
        """Two rows of one table with one id: the last would silently replace the first (a
        patient's identity, a prescription), so the extract is refused naming both rows, as
        the FHIR reader refuses two resources with one id (issue 13, item 1). Ids wait in
        ``staging`` (an extract's observations are millions), checked a batch at a time."""
        key = f"{table}/{rid}"
        first = self.ids.get(key)
        if first is None:
            self.ids[key] = (rid, where)
            if len(self.ids) >= ID_BATCH:
                self.check_ids()
        elif first[1] != where:
            raise _duplicate(table, rid, first[1], where)

    def check_ids(self) -> None:
        """The batch's ids against every earlier one (the first duplicate, in row order)."""
        if not self.ids:
            return
        earlier = self.staging.fetch("tabular_ids", self.ids)
        for key, (rid, where) in self.ids.items():
            if key in earlier and earlier[key] != where:
                raise _duplicate(key.split("/", 1)[0], rid, earlier[key], where)
        for key, (_, where) in self.ids.items():
            self.staging.put("tabular_ids", key, where)
        self.ids.clear()

    def done(self) -> None:
        self.check_ids()


ID_BATCH = 2000  # row ids checked against the earlier ones together
_FACT_TABLES = frozenset({"allergies", "alerts", "prescriptions", "observations"})


def _duplicate(table: str, rid: str, first: str, where: str) -> InputError:
    return InputError(
        f"two {table} rows with id {rid!r}: this one and {first}; one would "
        "silently replace the other, so the extract is refused (fix the duplicate id)",
        where=where,
    )


def _csv_where(path: Path) -> Callable[[int, str], str]:
    def where(row: int, column: str) -> str:
        return f"{path}:{row}" + (f", column '{column}'" if column else "")

    return where


def _sheet_where(path: Path, sheet: str) -> Callable[[int, str], str]:
    def where(row: int, column: str) -> str:
        return f"{path}, sheet {sheet} row {row}" + (f" column '{column}'" if column else "")

    return where


def _csv_rows(path: Path) -> Iterator[list[str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from csv.reader(handle)
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason}); save the CSV as UTF-8",
                         where=str(path)) from exc
    except csv.Error as exc:
        raise InputError(f"not a valid CSV file: {exc}", where=str(path)) from exc


def _read_workbook(path: Path, rows: _RowSink, patients: bool) -> None:
    """The patients sheets (``patients``) or every other sheet of one workbook, a row at a
    time (openpyxl read-only mode: rows are parsed as they are asked for)."""
    from openpyxl import load_workbook

    workbook_limits.check_workbook(path)  # size, rows, no DTD: before any XML parser runs
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InputError(f"not a readable xlsx workbook ({exc})", where=str(path)) from exc
    try:
        for sheet in book.worksheets:
            table = sheet.title.strip().lower()
            if table not in TABLES:
                if not patients:
                    rows.out.skipped[f"sheet {sheet.title} in {path.name} (not a known "
                                     "table)"] += 1
                continue
            if (table == "patients") != patients:
                continue
            cells = ([_cell_text(c) for c in row] for row in sheet.iter_rows(values_only=True))
            rows.read(table, cells, _sheet_where(path, sheet.title),
                      f"{path.name} sheet {sheet.title}")
    finally:
        book.close()


def _cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_table(
    table: str, rows: Iterator[list[str]], sink: _RowSink,
    where: Callable[[int, str], str], label: str,
) -> None:
    columns = {c.name: c for c in TABLES[table]}
    header: list[str] | None = None
    for number, raw in enumerate(rows, start=1):
        if header is None:
            header = [h.strip().lower() for h in raw]
            missing = [c.name for c in columns.values() if c.required and c.name not in header]
            if missing:
                raise InputError(
                    f"table '{table}' needs the column(s) {', '.join(missing)}",
                    where=where(1, ""),
                )
            for name in header:
                if name and name not in columns:
                    sink.out.skipped[f"column '{name}' in {label} (not used)"] += 1
            continue
        if not any(cell.strip() for cell in raw):
            continue
        values: dict[str, Any] = {}
        for name, text in zip(header, raw, strict=False):
            column = columns.get(name)
            if column is None:
                continue
            text = text.strip()
            if column.required and not text:
                raise InputError("is empty but required", where=where(number, name))
            values[name] = column.convert(text, where(number, name))
        sink.take(table, number, where, values)


def _check_amounts(table: str, parts: Parts, where: Callable[[str], str]) -> None:
    # ``where`` is the row's place: where("dose") -> "prescriptions.csv:4, column 'dose'"
    """Impossible amounts (domain.plausible): a prescription's dose or maximum prints as
    CHECK_DOSE, an observation that cannot be a reading is not kept; each is listed in the
    import summary with its row, as the FHIR reader does."""
    if table == "observations":
        obs = parts.observations[-1]
        problem = reading_problem(obs.value)
        if problem:
            parts.observations.pop()
            parts.skipped[f"Observation {obs.id!r} at {where('value')} not printed: "
                          f"{problem}"] += 1
        return
    rx = parts.prescriptions[-1]
    changes: dict[str, Any] = {}
    for column, what in (("dose", "dose"), ("prn_max_24h", "maximum dose")):
        problem = dose_text_problem(getattr(rx, column), what=what)
        if problem:
            changes[column] = CHECK_DOSE
            parts.skipped[f"{CHECK_DOSE_NOTE}: prescription {rx.id!r} at "
                          f"{where(column)}, {problem}"] += 1
    if changes:
        parts.prescriptions[-1] = dataclasses.replace(rx, **changes)


_ID_TABLES = frozenset({"patients", "stays", "allergies", "alerts", "prescriptions",
                        "observations", "appointments", "theatre_cases"})


def _check_unique_nhs(patient: Patient, where: str, seen: dict[str, tuple[str, str]]) -> None:
    """Two patients with one NHS number is a duplicate registration: refuse the extract, as
    the FHIR importer does, rather than let one row silently hide the other."""
    if not patient.nhs_number:
        return
    other_id, other_where = seen.setdefault(patient.nhs_number, (patient.id, where))
    if other_id != patient.id:
        raise InputError(
            f"patient {patient.id!r} has the same NHS number as patient {other_id!r} "
            f"({other_where}); a duplicate registration must be merged in the EPR before "
            "import",
            where=where,
        )


def _s(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    return value if isinstance(value, str) else ""


def _patient(v: dict[str, Any], n: int, parts: Parts) -> None:
    pid = _s(v, "id") or _s(v, "hospital_number") or v.get("nhs_number") or f"patient-{n}"
    death = v.get("deceased") or (False, None)
    phones = [Phone(_s(v, "phone"), "home")] if _s(v, "phone") else []
    if _s(v, "mobile"):
        phones.append(Phone(_s(v, "mobile"), "mobile"))
    kin = (NextOfKin(clean_name(_s(v, "next_of_kin_name")), _s(v, "next_of_kin_relationship"),
                     _s(v, "next_of_kin_phone")),) if _s(v, "next_of_kin_name") else ()
    parts.patients.append(Patient(
        id=pid, nhs_number=v.get("nhs_number"), hospital_number=_s(v, "hospital_number") or None,
        **name_fields(_s(v, "family"), _s(v, "given")), birth_date=v.get("birth_date"),
        sex=v.get("sex") or Sex.UNKNOWN, address=_s(v, "address"), phones=tuple(phones),
        next_of_kin=kin, gp_practice=_s(v, "gp_practice"), source_time=v.get("source_time"),
        deceased=death[0], deceased_date=death[1],
    ))
    if v.get("spo2_scale") in (1, 2):
        parts.spo2_scale[pid] = int(v["spo2_scale"])


def _ward(v: dict[str, Any], n: int, parts: Parts) -> None:
    parts.wards.append(Ward(_s(v, "code"), _s(v, "name"), _s(v, "site")))


def _stay(v: dict[str, Any], n: int, parts: Parts) -> None:
    parts.stays.append(Stay(
        id=_s(v, "id") or f"stay-{n}", patient_id=_s(v, "patient_id"),
        ward_code=_s(v, "ward_code"), bed=_s(v, "bed"), site=_s(v, "site"),
        consultant=_s(v, "consultant"), specialty=_s(v, "specialty"),
        admitted_at=v.get("admitted_at"), source_time=v.get("source_time"),
    ))
    parts.wards.append(Ward(_s(v, "ward_code"), _s(v, "ward_name") or _s(v, "ward_code"),
                            _s(v, "site")))


def _allergy(v: dict[str, Any], n: int, parts: Parts) -> None:
    parts.allergies.append(Allergy(
        id=_s(v, "id") or f"allergy-{n}", patient_id=_s(v, "patient_id"),
        substance=_s(v, "substance"), reaction=_s(v, "reaction"), severity=_s(v, "severity"),
        criticality=_s(v, "criticality"), category=_s(v, "category"),
        no_known_allergies=bool(v.get("no_known_allergies")), source_time=v.get("source_time"),
    ))


def _alert(v: dict[str, Any], n: int, parts: Parts) -> None:
    parts.alerts.append(Alert(
        id=_s(v, "id") or f"alert-{n}", patient_id=_s(v, "patient_id"), text=_s(v, "text"),
        category=_s(v, "category"), code=_s(v, "code"), source_time=v.get("source_time"),
    ))


def _prescription(v: dict[str, Any], n: int, parts: Parts) -> None:
    parts.prescriptions.append(Prescription(
        id=_s(v, "id") or f"prescription-{n}", patient_id=_s(v, "patient_id"),
        drug=_s(v, "drug"), dose=_safe_dose(_s(v, "dose")), route=_s(v, "route"),
        frequency=_s(v, "frequency"), dose_times=v.get("dose_times") or (),
        kind=v.get("kind") or PrescriptionKind.REGULAR, prn_indication=_s(v, "prn_indication"),
        prn_max_24h=_s(v, "prn_max_24h"), start_date=v.get("start_date"),
        last_administered=v.get("last_administered"), prescriber=_s(v, "prescriber"),
        instructions=_s(v, "instructions"), drug_code=_s(v, "drug_code"),
        source_time=v.get("source_time"),
    ))


_DOSE = re.compile(r"^(\d+(?:\.\d+)?(?:\s*-\s*\d+(?:\.\d+)?)?)\s*([^\s\d][^\s]*)$")


def _safe_dose(text: str) -> str:
    """'500 ug' -> '500 microgram', '10 U' -> '10 units' (see fhir_values.SAFE_UNITS);
    any other dose text as written."""
    match = _DOSE.match(text)
    if match is None:
        return text
    unit = safe_unit(match.group(2))
    return f"{match.group(1)} {unit}" if unit != match.group(2) else text


def _observation(v: dict[str, Any], n: int, parts: Parts) -> None:
    parts.observations.append(Observation(
        id=_s(v, "id") or f"observation-{n}", patient_id=_s(v, "patient_id"), kind=v["kind"],
        effective=aware(v["effective"]), value=v.get("value"), text=_s(v, "text"),
        unit=_s(v, "unit"), source_time=v.get("source_time"),
    ))


def _appointment(v: dict[str, Any], n: int, parts: Parts) -> None:
    parts.appointments.append(Appointment(
        id=_s(v, "id") or f"appointment-{n}", patient_id=_s(v, "patient_id"),
        clinic=_s(v, "clinic"), start=v["start"], end=v.get("end"),
        clinician=_s(v, "clinician"), location=_s(v, "location"),
        status=_s(v, "status") or "booked", description=_s(v, "description"),
        source_time=v.get("source_time"),
    ))


def _theatre_case(v: dict[str, Any], n: int, parts: Parts) -> None:
    parts.theatre_cases.append(TheatreCase(
        id=_s(v, "id") or f"theatre-case-{n}", patient_id=_s(v, "patient_id"),
        theatre=_s(v, "theatre"), session_date=v["session_date"],
        planned_order=v["planned_order"], procedure=_s(v, "procedure"),
        planned_start=v.get("planned_start"), surgeon=_s(v, "surgeon"),
        anaesthetist=_s(v, "anaesthetist"), status=_s(v, "status") or "booked",
        source_time=v.get("source_time"),
    ))


_ROW_BUILDERS: dict[str, Callable[[dict[str, Any], int, Parts], None]] = {
    "patients": _patient, "wards": _ward, "stays": _stay, "allergies": _allergy,
    "alerts": _alert, "prescriptions": _prescription, "observations": _observation,
    "appointments": _appointment, "theatre_cases": _theatre_case,
}
