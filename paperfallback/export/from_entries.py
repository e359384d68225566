"""Read what was keyed into the export model: the edge between re-entry and export.

For each form instance whose values are final (keyed, or verified where double entry
applies, or already exported and possibly corrected since) it takes the final entries
(:func:`paperfallback.reentry.workflow.final_entries`), the printed copy from the
register (patient, print time, PC, the cached record behind each pre-filled table row)
and the form definition (labels, units, export codes), and builds an
:class:`~paperfallback.export.model.ExportedForm`. Facts printed on the paper but not
keyed (the drug of a MAR row, the procedure of a theatre case) come from the cache by
the record id the register kept.

MAR regular medicines are keyed one row per printed dose time (the register's
``regular:<prescription>@<time>``); the date of each day column is the one printed on
the chart, or the one keyed from it (``regular.days``: ``day_date_<n>``). Nothing is
guessed: a day column with neither is reported by the MAR builder.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError, PaperFallbackError
from paperfallback.domain.records import Patient, Prescription
from paperfallback.export.model import (
    LOCAL_PATIENT_ID_SYSTEM,
    Code,
    ExportedForm,
    KeyedRow,
    KeyedValue,
    PatientRef,
    ValueState,
)
from paperfallback.formspec import FieldSpec, FormCatalogue, FormSpec, TableSection
from paperfallback.formspec.models import repeat_number
from paperfallback.reentry.keying_service import describe_patient
from paperfallback.reentry.layout import PATIENT_SECTION, FormLayout, day_section_id
from paperfallback.reentry.model import Entry, EntryState, InstanceStatus
from paperfallback.reentry.patients import is_unconfirmed
from paperfallback.reentry.printed import issued_layout, printed_day_dates, row_reference
from paperfallback.reentry.printed_rows import split_reference
from paperfallback.reentry.store import DowntimePatient, EntriesStore, InstanceRecord
from paperfallback.reentry.workflow import final_entries_of_many, ready_for_export
from paperfallback.register import IssuedForm, Register


@dataclass
class ReadResult:
    forms: list[ExportedForm] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def exportable_instance_ids(store: EntriesStore, double_entry_forms: Iterable[str]) -> list[str]:
    """Keyed (single entry) or verified (double entry) forms, and forms exported before
    (whose values may have been corrected since)."""
    ready = set(ready_for_export(store, double_entry_forms))
    ready |= {r.instance_id for r in store.instances() if r.status is InstanceStatus.EXPORTED}
    return sorted(ready)


def read_forms(
    store: EntriesStore,
    register: Register,
    catalogue: FormCatalogue,
    cache: CacheStore | None,
    *,
    site_code: str,
    hospital_number_system: str = LOCAL_PATIENT_ID_SYSTEM,
    double_entry_forms: Iterable[str] = (),
    instance_ids: Iterable[str] | None = None,
) -> ReadResult:
    """Every form ready for export, in a list (``iter_forms`` reads them as used)."""
    result = ReadResult()
    result.forms = list(iter_forms(
        store, register, catalogue, cache, site_code=site_code,
        hospital_number_system=hospital_number_system, double_entry_forms=double_entry_forms,
        instance_ids=instance_ids, problems=result.problems))
    return result


READ_CHUNK = 500  # forms whose entries are read together (one query, not one per form)


def iter_forms(
    store: EntriesStore,
    register: Register,
    catalogue: FormCatalogue,
    cache: CacheStore | None,
    *,
    site_code: str,
    hospital_number_system: str = LOCAL_PATIENT_ID_SYSTEM,
    double_entry_forms: Iterable[str] = (),
    instance_ids: Iterable[str] | None = None,
    problems: list[str],
) -> Iterator[ExportedForm]:
    """The forms ready for export, read ``READ_CHUNK`` at a time as the export uses them
    (an export of 50,000 forms never holds them all: issue 15); a form that cannot be
    read is a line in ``problems``."""
    reader = _Reader(store, cache, hospital_number_system)
    ids = list(instance_ids) if instance_ids is not None else exportable_instance_ids(
        store, double_entry_forms)
    for start in range(0, len(ids), READ_CHUNK):
        chunk = ids[start:start + READ_CHUNK]
        reader.preload(chunk)  # entries and instance records in bulk
        printed = register.get_many(chunk)  # one query, not one per form nor the register
        for instance_id in chunk:
            issued = printed.get(instance_id)
            if issued is None:
                try:
                    issued = register.get(instance_id)
                except PaperFallbackError as exc:
                    problems.append(f"form {instance_id}: {exc}")
                    continue
            if issued is None:
                problems.append(
                    f"form {instance_id}: not in this PC's register, so its patient and print "
                    "details are unknown; export it from the PC that printed it"
                )
                continue
            try:
                spec = catalogue.get(issued.form_id)
            except PaperFallbackError as exc:
                problems.append(f"form {instance_id}: {exc}")
                continue
            try:
                form = reader.form(spec, issued, site_code)
            except PaperFallbackError as exc:
                problems.append(f"form {instance_id}: {exc}")
                continue
            yield form


class _Reader:
    def __init__(self, store: EntriesStore, cache: CacheStore | None, hospital_system: str):
        self.store = store
        self.cache = cache
        self.hospital_system = hospital_system
        self._downtime: dict[str, DowntimePatient] | None = None
        self._patients: dict[str, Patient | None] = {}
        self._prescriptions: dict[str, dict[str, Prescription]] = {}
        self._metas: dict[tuple[str, str, str, str], _FieldMeta] = {}
        self._entries: dict[str, list[Entry]] = {}
        self._records: dict[str, InstanceRecord] | None = None

    def preload(self, instance_ids: list[str]) -> None:
        """Read the final entries of these forms at once (the chunk before is dropped), and
        every instance record once."""
        self._entries = final_entries_of_many(self.store, instance_ids)
        if self._records is None:
            self._records = {r.instance_id: r for r in self.store.instances()}

    def _final(self, instance_id: str) -> list[Entry]:
        found = self._entries.get(instance_id)
        if found is None:
            found = final_entries_of_many(self.store, [instance_id])[instance_id]
        return found

    def _record(self, instance_id: str) -> InstanceRecord | None:
        if self._records is not None and instance_id in self._records:
            return self._records[instance_id]
        return self.store.instance(instance_id)

    def _meta(self, spec: FormSpec, layout: FormLayout, section_id: str,
              field_id: str) -> _FieldMeta:
        key = (spec.id, spec.version, section_id, field_id)
        meta = self._metas.get(key)
        if meta is None:
            meta = self._metas[key] = _field_meta(layout, section_id, field_id)
        return meta

    # ---- patients ------------------------------------------------------------------------

    def patient_ref(self, patient: Patient) -> PatientRef:
        return PatientRef(
            nhs_number=patient.nhs_number, hospital_number=patient.hospital_number,
            hospital_number_system=self.hospital_system, family=patient.family,
            given=patient.given, birth_date=patient.birth_date, sex=patient.sex.value,
        )

    def cached_patient(self, patient_id: str) -> Patient | None:
        if patient_id not in self._patients:
            found = None
            if self.cache is not None:
                try:
                    found = self.cache.patient_record(patient_id).patient
                except PaperFallbackError:
                    found = None
            self._patients[patient_id] = found
        return self._patients[patient_id]

    def downtime_patient(self, number: str) -> DowntimePatient | None:
        if self._downtime is None:
            self._downtime = {p.downtime_number: p for p in self.store.downtime_patients()}
        return self._downtime.get(number)

    def form_patient(self, issued: IssuedForm, record: InstanceRecord | None) -> PatientRef | None:
        """Who a patient form is about: as printed, or as identified when keying a blank."""
        if issued.patient_id:
            cached = self.cached_patient(issued.patient_id)
            if cached is not None:
                return self.patient_ref(cached)
            family, _, given = issued.patient_name.partition(", ")
            return PatientRef(nhs_number=issued.nhs_number,
                              hospital_number=issued.hospital_number,
                              hospital_number_system=self.hospital_system,
                              family=family, given=given)
        if record is not None and record.patient_match.startswith("downtime:"):
            number = record.patient_match.split(":", 1)[1]
            person = self.downtime_patient(number)
            if person is None:
                return PatientRef(downtime_number=number)
            return PatientRef(
                nhs_number=person.nhs_number, hospital_number=person.hospital_number,
                hospital_number_system=self.hospital_system, downtime_number=number,
                family=person.family, given=person.given,
                birth_date=date.fromisoformat(person.birth_date) if person.birth_date else None,
                sex=person.sex if person.sex != "unknown" else "",
            )
        if record is not None and record.patient_id:
            cached = self.cached_patient(record.patient_id)
            if cached is not None:
                return self.patient_ref(cached)
        if issued.downtime_number:
            return PatientRef(downtime_number=issued.downtime_number)
        return None

    # ---- rows ----------------------------------------------------------------------------

    def form(self, spec: FormSpec, issued: IssuedForm, site_code: str) -> ExportedForm:
        record = self._record(issued.instance_id)
        layout = issued_layout(spec, issued)
        grouped: dict[tuple[str, int], dict[str, Entry]] = defaultdict(dict)
        for entry in self._final(issued.instance_id):
            address = entry.address
            grouped[(address.section, address.index)][address.field_id] = entry
        if record is not None and record.patient_id and is_unconfirmed(record.patient_match):
            # Never exported on a name match alone (issue #13 item 8): listed instead.
            cached = self.cached_patient(record.patient_id)
            who = describe_patient(cached) if cached is not None else record.patient_id
            raise InputError(
                f"the patient written on this blank form matches {who} by name and date "
                "of birth only; a clerk must confirm it is the same person (on the keying "
                "screen, or with the entries confirm command) before it is exported")
        patient = self.form_patient(issued, record)
        # A registration identified as a patient the EPR already holds (by an identifier
        # keyed from the paper, or a name match a clerk confirmed): no new Patient.
        patient_exists = bool(record is not None and record.patient_id
                              and not record.patient_match.startswith("downtime:")
                              and patient is not None
                              and (patient.nhs_number or patient.hospital_number))
        if spec.registration_number and issued.downtime_number:
            patient = PatientRef(
                downtime_number=issued.downtime_number,
                nhs_number=patient.nhs_number if patient else None,
                hospital_number=patient.hospital_number if patient else None,
                hospital_number_system=self.hospital_system,
                family=patient.family if patient and patient_exists else "",
                given=patient.given if patient and patient_exists else "",
            )
        rows = []
        seen_refs: dict[tuple[str, str], int] = defaultdict(int)
        days = _day_dates(spec, issued, grouped)
        for (section_id, index), entries in sorted(grouped.items()):
            if section_id == PATIENT_SECTION:
                continue
            values = {fid: _value(self._meta(spec, layout, section_id, fid), e)
                      for fid, e in entries.items()}
            row = KeyedRow(section=section_id, index=index, values=values)
            rows.append(self._with_context(spec, issued, row, patient, seen_refs,
                                           days.get(section_id, {})))
        return ExportedForm(
            instance_id=issued.instance_id, form_id=spec.id,
            form_version=issued.form_version or spec.version, form_title=spec.title,
            patient=patient if spec.scope in ("patient", "blank") else None,
            printed_at=issued.printed_at, pc_id=issued.pc_id, site_code=site_code,
            rows=tuple(rows), ward=issued.ward_code,
            status=record.status.value if record else "keyed",
            form_date=issued.session_date,
            verified_by=record.resolved_by if record else "",
            patient_exists=patient_exists,
            spo2_scale=issued.spo2_scale,
            spec=spec,
        )

    def _with_context(
        self, spec: FormSpec, issued: IssuedForm, row: KeyedRow, patient: PatientRef | None,
        seen_refs: dict[tuple[str, str], int], days: dict[int, tuple[date, str]],
    ) -> KeyedRow:
        section = next((s for s in spec.sections if s.id == row.section), None)
        context: dict[str, str] = {}
        row_patient: PatientRef | None = None
        ref = ""
        if isinstance(section, TableSection):
            ref = row_reference(issued, section.id, row.index) or ""
            record_id, sub = split_reference(ref)
            if section.source == "prescriptions" and record_id and issued.patient_id:
                occurrence = seen_refs[(section.id, record_id)]
                seen_refs[(section.id, record_id)] += 1
                context.update(self._prescription_context(issued.patient_id, record_id,
                                                          sub, occurrence))
            elif section.source == "appointments" and record_id:
                row_patient, extra = self._list_row(issued, "appointments", record_id)
                context.update(extra)
            elif section.source == "theatre_cases" and record_id:
                row_patient, extra = self._list_row(issued, "theatre_cases", record_id)
                context.update(extra)
            elif section.source == "ward_patients" and record_id:
                cached = self.cached_patient(record_id)
                row_patient = self.patient_ref(cached) if cached else None
            for n, (day, how) in days.items():
                context[f"day_{n}"] = day.isoformat()
                context[f"day_{n}_source"] = how
            ref = record_id
        elif section is not None and getattr(section, "kind", "") == "chart":
            points = list(getattr(section, "time_points", []))
            if row.index < len(points):
                context["time_point"] = points[row.index]
        return KeyedRow(section=row.section, index=row.index, values=row.values,
                        patient=row_patient, source_ref=ref, context=context)

    def _prescription_context(
        self, patient_id: str, prescription_id: str, sub: str | None, occurrence: int
    ) -> dict[str, str]:
        if patient_id not in self._prescriptions:
            found: dict[str, Prescription] = {}
            if self.cache is not None:
                try:
                    record = self.cache.patient_record(patient_id)
                    found = {p.id: p for p in record.prescriptions}
                except PaperFallbackError:
                    found = {}
            self._prescriptions[patient_id] = found
        prescription = self._prescriptions[patient_id].get(prescription_id)
        if prescription is None:
            return {}
        context = {"drug": prescription.drug, "dose": prescription.dose,
                   "route": prescription.route, "drug_code": prescription.drug_code}
        if sub:
            context["dose_time"] = sub
        elif sub is None and occurrence < len(prescription.dose_times):
            # Forms printed before version 1.1 of the MAR keyed one row per prescription.
            context["dose_time"] = prescription.dose_times[occurrence]
        return {k: v for k, v in context.items() if v}

    def _list_row(
        self, issued: IssuedForm, kind: str, record_id: str
    ) -> tuple[PatientRef | None, dict[str, str]]:
        if self.cache is None or issued.session_date is None:
            return None, {}
        place = issued.clinic if kind == "appointments" else issued.theatre
        try:
            pairs: list[tuple[Any, Patient]] = (
                list(self.cache.appointments(place, issued.session_date))
                if kind == "appointments"
                else list(self.cache.theatre_cases(place, issued.session_date))
            )
        except PaperFallbackError:
            return None, {}
        for item, person in pairs:
            if item.id == record_id:
                extra = {"procedure": item.procedure} if kind == "theatre_cases" else {}
                return self.patient_ref(person), extra
        return None, {}


def _day_dates(spec: FormSpec, issued: IssuedForm,
               grouped: dict[tuple[str, int], dict[str, Entry]],
               ) -> dict[str, dict[int, tuple[date, str]]]:
    """Per table with day columns: day number -> (date, 'printed' or 'keyed'); a keyed
    date (a printed one crossed out and rewritten by hand) wins over the printed one."""
    out: dict[str, dict[int, tuple[date, str]]] = {}
    for section in spec.sections:
        if not isinstance(section, TableSection) or section.repeat is None:
            continue
        day_field = section.repeat.day_field
        if day_field is None:
            continue
        printed = printed_day_dates(issued, section.id)
        keyed = {n: (d, "printed") for n, d in enumerate(printed, start=1)}
        for field_id, entry in grouped.get((day_section_id(section.id), 0), {}).items():
            number = repeat_number(field_id, day_field.id)
            if number is None or entry.state is not EntryState.VALUE or not entry.value:
                continue
            try:
                keyed[number] = (date.fromisoformat(entry.value), "keyed")
            except ValueError:
                continue
        out[section.id] = keyed
    return out


@dataclass(frozen=True, slots=True)
class _FieldMeta:
    """What the form definition says about a field, converted once per form and field."""

    label: str
    field_type: str
    unit: str
    codes: tuple[Code, ...]
    choices: dict[str, tuple[str, tuple[Code, ...]]]  # keyed code (folded) -> label, codes


def _field_meta(layout: FormLayout, section_id: str, field_id: str) -> _FieldMeta:
    try:
        spec: FieldSpec | None = layout.section(section_id).field(field_id)
    except KeyError:
        spec = None
    if spec is None:
        return _FieldMeta(field_id, "text", "", (), {})
    return _FieldMeta(
        spec.label, spec.type, spec.unit,
        tuple(Code(c.system, c.code, c.display) for c in spec.code),
        {c.code.casefold(): (c.label, tuple(Code(k.system, k.code, k.display)
                                            for k in c.coding))
         for c in spec.choices},
    )


_VALUE_STATES = {s.value: s for s in ValueState}


def _value(meta: _FieldMeta, entry: Entry) -> KeyedValue:
    choice = meta.choices.get(entry.value.strip().casefold()) if (
        entry.value and meta.choices) else None
    return KeyedValue(
        field_id=entry.address.field_id,
        text=entry.value,
        state=_VALUE_STATES[entry.state.value],
        label=meta.label,
        field_type=meta.field_type,
        unit=meta.unit,
        codes=meta.codes,
        choice_label=choice[0] if choice else "",
        choice_codes=choice[1] if choice else (),
        keyed_by=entry.keyed_by,
        keyed_at=entry.keyed_at,
    )
