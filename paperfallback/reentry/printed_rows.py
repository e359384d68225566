"""What each printed table row of an issued form stands for: whose row it is and what was
printed on it (the drug and dose time of a MAR row, the time and patient of a clinic
appointment), so a clerk keying a workbook or a screen sees which line of the paper a
row is. The register keeps only record ids (``IssuedForm.rows``); the cache supplies the
rest. Anything the cache no longer holds is simply left out: it is shown, never keyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paperfallback.cache.staleness import uk_time
from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import PaperFallbackError
from paperfallback.domain.records import Patient, Prescription
from paperfallback.formspec import FormSpec, TableSection
from paperfallback.register import IssuedForm

BLANK_ROW_TEXT = "blank row (written in by hand)"


@dataclass(frozen=True, slots=True)
class PrintedRow:
    """One printed table row: the patient it is about (list forms) and its printed text."""

    patient: Patient | None
    text: str


def split_reference(ref: str) -> tuple[str, str | None]:
    """'rx1@08:00' -> ('rx1', '08:00'); 'rx1@' -> ('rx1', ''); 'ap1' -> ('ap1', None).

    A MAR regular-medicine row is printed per dose time; ``@`` carries the dose time (an
    empty one is a spare sub-row with no printed time).
    """
    record_id, at, sub = ref.partition("@")
    return record_id, (sub if at else None)


def section_references(issued: IssuedForm, section_id: str) -> list[str]:
    """The cached record ids of a section's pre-filled rows, in print order."""
    return [r.split(":", 1)[1] for r in issued.rows if r.split(":", 1)[0] == section_id]


def printed_rows(form: FormSpec, issued: IssuedForm,
                 cache: CacheStore | None) -> dict[tuple[str, int], PrintedRow]:
    """Per (section id, row index): who and what the row was printed for."""
    out: dict[tuple[str, int], PrintedRow] = {}
    for section in form.sections:
        if not isinstance(section, TableSection) or section.source == "none":
            continue
        refs = section_references(issued, section.id)
        lookup = _lookup(section.source, issued, cache)
        for index, ref in enumerate(refs):
            record_id, sub = split_reference(ref)
            out[(section.id, index)] = _describe(section.source, lookup.get(record_id), sub)
    return out


def _lookup(source: str, issued: IssuedForm, cache: CacheStore | None) -> dict[str, Any]:
    if cache is None:
        return {}
    try:
        if source == "appointments" and issued.session_date is not None:
            return {a.id: (a, p) for a, p in cache.appointments(issued.clinic,
                                                                 issued.session_date)}
        if source == "theatre_cases" and issued.session_date is not None:
            return {c.id: (c, p) for c, p in cache.theatre_cases(issued.theatre,
                                                                 issued.session_date)}
        if source == "ward_patients" and issued.ward_code:
            return {r.patient.id: (r.stay, r.patient)
                    for r in cache.patients(ward_code=issued.ward_code)}
        if source == "prescriptions" and issued.patient_id:
            record = cache.patient_record(issued.patient_id)
            return {rx.id: rx for rx in record.prescriptions}
    except PaperFallbackError:
        return {}
    return {}


def _describe(source: str, found: Any, sub: str | None) -> PrintedRow:
    if source == "prescriptions":
        at = f" at {sub}" if sub else (" (spare time row)" if sub == "" else "")
        if isinstance(found, Prescription):
            drug = " ".join(x for x in (found.drug, found.dose, found.route) if x)
            return PrintedRow(None, drug + at)
        return PrintedRow(None, ("prescription" + at).strip())
    if found is None:
        return PrintedRow(None, "")
    item, patient = found
    if source == "appointments":
        start = uk_time(item.start).strftime("%H:%M") if item.start else ""
        return PrintedRow(patient, f"{start} {patient.display_name}".strip())
    if source == "theatre_cases":
        return PrintedRow(patient, f"{item.planned_order}. {item.procedure}")
    bed = item.bed if item is not None else ""
    return PrintedRow(patient, f"{bed} {patient.display_name}".strip())
