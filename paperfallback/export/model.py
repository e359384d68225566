"""What an export holds: one :class:`ExportedForm` per keyed paper form instance.

Deliberately small and independent of the re-entry store, so every writer (FHIR, xlsx,
CSV) and the merge work from the same plain data, and tests and benchmarks can build it
directly. A value is addressed as on the paper: form instance, section, index (chart
column or table row, from 0) and field id; each value keeps who keyed it and when, and
the export codes its form definition gives it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson

from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.domain.terminology import LOCAL_PATIENT_ID_SYSTEM as LOCAL_PATIENT_ID_SYSTEM
from paperfallback.domain.terminology import NHS_NUMBER_SYSTEM as NHS_NUMBER_SYSTEM
from paperfallback.domain.terminology import Code as Code  # re-exported: export's Coding

if TYPE_CHECKING:
    from paperfallback.formspec import FormCatalogue, FormSpec


class ValueState(StrEnum):
    """What the clerk found on the paper (mirrors the re-entry store's EntryState)."""

    VALUE = "value"
    ILLEGIBLE = "illegible"
    NOT_RECORDED = "not_recorded"


@dataclass(frozen=True, slots=True)
class PatientRef:
    """Who a form or row is about, as the EPR can find them again.

    Preference for references: NHS number, then hospital number (with its system), then
    the downtime number allocated on paper. Names and birth date are for people reading
    the spreadsheets and for downtime registrations; they are never used to match.
    """

    nhs_number: str | None = None
    hospital_number: str | None = None
    hospital_number_system: str = LOCAL_PATIENT_ID_SYSTEM
    downtime_number: str | None = None
    family: str = ""
    given: str = ""
    birth_date: date | None = None
    sex: str = ""  # FHIR administrative gender code, "" when not known

    @property
    def is_identified(self) -> bool:
        return bool(self.nhs_number or self.hospital_number or self.downtime_number)

    @property
    def key(self) -> str:
        """A stable text key ('nhs:9990000018'), the one used for references."""
        if self.nhs_number:
            return f"nhs:{self.nhs_number}"
        if self.hospital_number:
            return f"local:{self.hospital_number_system}|{self.hospital_number}"
        if self.downtime_number:
            return f"downtime:{self.downtime_number}"
        return ""

    @property
    def display_name(self) -> str:
        return f"{self.family.upper()}, {self.given}".strip(", ")


@dataclass(frozen=True, slots=True)
class KeyedValue:
    """One keyed field. ``text`` is the canonical text the re-entry store holds."""

    field_id: str
    text: str | None
    state: ValueState = ValueState.VALUE
    label: str = ""
    field_type: str = "text"  # the form definition's type: number, choice, datetime ...
    unit: str = ""  # as the definition prints it ("/min", "mmHg", "°C")
    codes: tuple[Code, ...] = ()  # the field's export codes
    choice_label: str = ""  # for choices: the printed label of the keyed code
    choice_codes: tuple[Code, ...] = ()  # for choices: the keyed code's export codes
    keyed_by: str = ""
    keyed_at: datetime | None = None

    @property
    def has_value(self) -> bool:
        return self.state is ValueState.VALUE and bool(self.text)

    def number(self) -> float | None:
        """The value as a number, or None when it is not a number (or not a value)."""
        if not self.has_value:
            return None
        try:
            return float(str(self.text).strip())
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class KeyedRow:
    """One chart column, table row, or the single row of a box of fields.

    ``patient`` is set on rows of list forms (handover, clinic, theatre), where each row
    is about a different patient; ``source_ref`` is the cache's id of the record the row
    was printed from (appointment, theatre case, prescription), the EPR's own id; and
    ``context`` holds pre-filled text printed on the row (drug, dose, procedure ...).
    """

    section: str
    index: int
    values: Mapping[str, KeyedValue]
    patient: PatientRef | None = None
    source_ref: str = ""
    context: Mapping[str, str] = field(default_factory=dict)

    def get(self, field_id: str) -> KeyedValue | None:
        return self.values.get(field_id)

    def text(self, field_id: str) -> str:
        value = self.values.get(field_id)
        return value.text or "" if value is not None and value.has_value else ""

    @property
    def key(self) -> str:
        """'<section>/<column or row from 1>' (the unit an export marks as done)."""
        return f"{self.section}/{self.index + 1}"

    @property
    def keyed_at(self) -> datetime | None:
        times = [v.keyed_at for v in self.values.values() if v.keyed_at is not None]
        return max(times) if times else None

    @property
    def keyed_by(self) -> tuple[str, ...]:
        return tuple(sorted({v.keyed_by for v in self.values.values() if v.keyed_by}))


def news2_values(row: KeyedRow) -> dict[str, str | None]:
    """A row's values as the NEWS2 input builder takes them (field id -> text of a value;
    illegible / not recorded give None): see paperfallback.domain.news2_input."""
    return {f: v.text if v.has_value else None for f, v in row.values.items()}


@dataclass(frozen=True, slots=True)
class ExportedForm:
    """One issued paper form instance with what was keyed from it."""

    instance_id: str
    form_id: str
    form_version: str
    form_title: str
    patient: PatientRef | None
    printed_at: datetime
    pc_id: str
    site_code: str
    rows: tuple[KeyedRow, ...]
    ward: str = ""
    status: str = "keyed"  # keyed or verified (double entry)
    form_date: date | None = None  # the day of a clinic or theatre list
    verified_by: str = ""
    spo2_scale: int | None = None  # printed on the chart, from the register (IssuedForm)
    # the form's patient is one the EPR already holds (a blank registration matched by an
    # identifier, or by name confirmed by a clerk): reference them, never make a new one
    patient_exists: bool = False
    spec: FormSpec | None = None  # the form definition it was keyed from (site forms too)

    @property
    def definition(self) -> FormSpec | None:
        """The form definition: what every writer asks how a section is exported and
        which field plays which role. Forms built without one (samples, tests) take the
        bundled form of the same id; None when there is none (all questionnaire)."""
        if self.spec is not None:
            return self.spec
        forms = _bundled_forms()
        return forms.get(self.form_id) if self.form_id in forms else None

    def role_field(self, row: KeyedRow, role: str) -> str | None:
        """The id of the field declaring ``role`` in the row's section, if any."""
        spec = self.definition
        found = spec.role_field(role, row.section) if spec is not None else None
        return found.id if found is not None else None

    def role_text(self, row: KeyedRow, role: str) -> str:
        """The keyed text of the row's field declaring ``role`` ("" when none)."""
        field_id = self.role_field(row, role)
        return row.text(field_id) if field_id else ""

    def export_of(self, row: KeyedRow) -> str:
        """How the row's section is exported (``SectionExport``) as its definition says."""
        spec = self.definition
        section = spec.section(row.section) if spec is not None else None
        return section.export if section is not None else "questionnaire-response"

    def patient_for(self, row: KeyedRow) -> PatientRef | None:
        return row.patient if row.patient is not None else self.patient

    @property
    def keyed_at(self) -> datetime | None:
        times = [r.keyed_at for r in self.rows if r.keyed_at is not None]
        return max(times) if times else None

    @property
    def keyed_by(self) -> tuple[str, ...]:
        return tuple(sorted({c for r in self.rows for c in r.keyed_by}))


@cache
def _bundled_forms() -> FormCatalogue:
    from paperfallback.formspec import load_catalogue

    return load_catalogue()


def row_fingerprint(form: ExportedForm, row: KeyedRow) -> str:
    """A hash of what one row says (values, states, patient, context), for "changed?".

    Who keyed it and when are left out: re-keying the same value is not a change.
    """
    patient = form.patient_for(row)
    payload: dict[str, Any] = {
        "form": [form.form_id, form.form_version],
        "patient": patient.key if patient else "",
        "ref": row.source_ref,
        "context": sorted(row.context.items()),
        "values": sorted(
            (v.field_id, v.state.value, v.text or "") for v in row.values.values()
        ),
    }
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def parse_when(text: str, *, default_day: date | None = None, where: str = "") -> datetime:
    """A date-time from the canonical text the re-entry store keeps (ISO 8601).

    Naive times are UK local time (what the nurse wrote); a bare "HH:MM" takes
    ``default_day`` (the day of the list, or of the chart's printing).
    """
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None and default_day is not None:
        try:
            hours, minutes = raw.split(":")[:2]
            moment = datetime(default_day.year, default_day.month, default_day.day,
                              int(hours), int(minutes))
        except ValueError:
            moment = None
    if moment is None:
        raise InputError(f"{raw!r} is not a date and time", where=where or None)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UK)
    return moment


def fhir_datetime(moment: datetime) -> str:
    """FHIR dateTime with seconds and offset, in UK local time as the paper was written."""
    return moment.astimezone(UK).isoformat(timespec="seconds")


def row_fingerprints(form: ExportedForm) -> dict[str, str]:
    """Every row's fingerprint, by row key (computed once per export and shared)."""
    return {row.key: row_fingerprint(form, row) for row in form.rows}


def form_fingerprint(form: ExportedForm, rows: Mapping[str, str] | None = None) -> str:
    """A hash of everything a form says, so an unchanged form is skipped without being
    rebuilt (the next export of a large backlog holds only what changed)."""
    prints = rows if rows is not None else row_fingerprints(form)
    parts = [form.form_version, form.patient.key if form.patient else ""]
    parts += [f"{key}={value}" for key, value in prints.items()]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]
