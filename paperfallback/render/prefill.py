"""Turn a field's ``prefill`` source into the text printed from the cache.

One function per fact, so the wording of safety-critical facts (allergies above all)
lives in one place and is tested there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from paperfallback.cache.staleness import format_uk, uk_time
from paperfallback.cache.store import age_in_years
from paperfallback.cache.ward_summary import LatestNews2
from paperfallback.cache.ward_summary import latest_news2 as latest_news2_of
from paperfallback.domain.keyed import is_unchecked_total
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.domain.records import (
    AllergyStatus,
    Appointment,
    Patient,
    PatientRecord,
    Prescription,
    Stay,
    TheatreCase,
    Ward,
)
from paperfallback.render.draw import layout_cut

NO_KNOWN_ALLERGIES = "No known allergies"
ALLERGIES_NOT_RECORDED = "Allergies not recorded — check with patient"
NHS_NOT_RECORDED = "NHS number not recorded"
# A printed name is cut for layout at this length (issue 12, item 10): longer than any real
# name, short enough that one absurd value cannot crowd a page; the cache keeps it whole.
NAME_MAX_CHARS = 120
KEYED_MARK = "P"  # beside a value keyed from paper, not copied from the EPR (long outages)


@dataclass(frozen=True, slots=True)
class RowContext:
    """What one printed row or form is about; any part may be missing."""

    now: datetime
    patient: Patient | None = None
    stay: Stay | None = None
    ward: Ward | None = None
    record: PatientRecord | None = None
    prescription: Prescription | None = None
    appointment: Appointment | None = None
    theatre_case: TheatreCase | None = None

    @classmethod
    def for_record(cls, record: PatientRecord, now: datetime) -> RowContext:
        return cls(now=now, patient=record.patient, stay=record.stay, ward=record.ward,
                   record=record)


def format_date(value: date | None) -> str:
    return value.strftime("%d-%b-%Y") if value else ""


def format_time(value: datetime | None) -> str:
    return uk_time(value).strftime("%H:%M") if value else ""


def allergy_summary(record: PatientRecord) -> str:
    """The recorded allergies with reactions, 'No known allergies' only when the cache
    records exactly that, otherwise 'Allergies not recorded — check with patient'."""
    status = record.allergy_status
    if status is AllergyStatus.RECORDED:
        parts = []
        for allergy in record.true_allergies:
            detail = ", ".join(x for x in (allergy.reaction, allergy.severity) if x)
            parts.append(f"{allergy.substance} ({detail})" if detail else allergy.substance)
        return "; ".join(parts)
    if status is AllergyStatus.NONE_KNOWN:
        return NO_KNOWN_ALLERGIES
    return ALLERGIES_NOT_RECORDED


def printed_name(patient: Patient) -> str:
    """'FAMILY, Given' as printed: cut for layout at NAME_MAX_CHARS (marked with "…")."""
    return layout_cut(patient.display_name, NAME_MAX_CHARS)


def deceased_text(patient: Patient) -> str:
    """'DECEASED 09-May-1989' for a patient the extract records as dead, else ''."""
    return patient.death_text


def dob_with_age(patient: Patient, on: date) -> str:
    """'21-May-1950 (76 y)'; for a deceased patient the death, never a living age."""
    died = deceased_text(patient)
    if patient.birth_date is None:
        return f"DOB not recorded ({died})" if died else "DOB not recorded"
    if died:
        return f"{format_date(patient.birth_date)} ({died})"
    return f"{format_date(patient.birth_date)} ({age_in_years(patient.birth_date, on)} y)"


def unbroken(text: str) -> str:
    """Spaces made non-breaking, so a number never wraps across two lines of a cell."""
    return text.replace(" ", "\u00a0")


def identifiers(patient: Patient) -> str:
    """'999 000 0026' and the hospital number on a second line."""
    nhs = unbroken(format_nhs_number(patient.nhs_number)) or NHS_NOT_RECORDED
    return f"{nhs}\nHosp {patient.hospital_number}" if patient.hospital_number else nhs


def latest_news2_score(record: PatientRecord) -> LatestNews2 | None:
    """The latest NEWS2 of the record, keyed-from-paper observations included (the same
    rule as the ward screen: a recorded total, else one scored from a full set)."""
    return latest_news2_of(record.observations, record.spo2_scale)


def latest_news2(record: PatientRecord) -> str:
    latest = latest_news2_score(record)
    if latest is None:
        return "none recorded"
    moment = uk_time(latest.at)
    mark = f"{KEYED_MARK} " if latest.keyed_at else ""
    scored = " (scored)" if latest.computed else ""
    unchecked = UNCHECKED_MARK if latest_is_unchecked(record) else ""
    return f"{mark}{latest.total}{unchecked}{scored} at {moment:%H:%M} {moment:%d-%b}"


UNCHECKED_MARK = "?"  # a keyed paper total whose column was incomplete (not checked)
UNCHECKED_NOTE = ("? = total as written on paper, not checked: a parameter of that "
                  "observation set was not keyed (blank or illegible).")


def latest_is_unchecked(record: PatientRecord) -> bool:
    """Whether the latest NEWS2 is a handwritten total that could not be checked."""
    latest = latest_news2_score(record)
    return latest is not None and not latest.computed and any(
        is_unchecked_total(o) for o in record.observations if o.effective == latest.at)


def keyed_note(times: list[datetime]) -> str:
    """The footnote for the ``P`` marker: when the paper was keyed, and that the EPR
    snapshot does not hold it (so the nurse knows where the value came from)."""
    if not times:
        return ""
    first, last = format_keyed(min(times)), format_keyed(max(times))
    when = f"on {last}" if first == last else f"between {first} and {last}"
    return f"{KEYED_MARK} = keyed from paper {when}; not in the EPR snapshot."


def paper_total_note(items: list[tuple[datetime, str]]) -> str:
    """The footnote for the ≠ mark: a column's handwritten NEWS2 total differed from the
    one computed from its keyed values; the chart prints the computed one (RCP NEWS2
    2017), the paper's is shown here and the discrepancy is open for review."""
    if not items:
        return ""
    shown = "; ".join(f"{uk_time(moment):%d-%b %H:%M} paper {total}"
                      for moment, total in sorted(items))
    return (f"≠ = paper total differed: the total printed is computed from the keyed values "
            f"({shown}); see discrepancy.")


def format_keyed(moment: datetime) -> str:
    return uk_time(moment).strftime("%d-%b %H:%M")


def _patient(f: Callable[[Patient, RowContext], str]) -> Callable[[RowContext], str]:
    return lambda ctx: f(ctx.patient, ctx) if ctx.patient else ""


def _stay(f: Callable[[Stay], str]) -> Callable[[RowContext], str]:
    return lambda ctx: f(ctx.stay) if ctx.stay else ""


def _rx(f: Callable[[Prescription], str]) -> Callable[[RowContext], str]:
    return lambda ctx: f(ctx.prescription) if ctx.prescription else ""


def _appt(f: Callable[[Appointment], str]) -> Callable[[RowContext], str]:
    return lambda ctx: f(ctx.appointment) if ctx.appointment else ""


def _case(f: Callable[[TheatreCase], str]) -> Callable[[RowContext], str]:
    return lambda ctx: f(ctx.theatre_case) if ctx.theatre_case else ""


def _record(f: Callable[[PatientRecord], str]) -> Callable[[RowContext], str]:
    return lambda ctx: f(ctx.record) if ctx.record else ""


def _ward(ctx: RowContext) -> str:
    if ctx.ward:
        return ctx.ward.name
    return ctx.stay.ward_code if ctx.stay else ""


_RESOLVERS: dict[str, Callable[[RowContext], str]] = {
    "patient.name": _patient(lambda p, _c: printed_name(p)),
    "patient.family": _patient(lambda p, _c: p.family.upper()),
    "patient.given": _patient(lambda p, _c: p.given),
    "patient.nhs_number": _patient(lambda p, _c: identifiers(p)),
    "patient.hospital_number": _patient(lambda p, _c: p.hospital_number or ""),
    "patient.birth_date": _patient(lambda p, c: dob_with_age(p, uk_time(c.now).date())),
    "patient.age": _patient(
        lambda p, c: "DECEASED" if p.deceased else (
            str(age_in_years(p.birth_date, uk_time(c.now).date())) if p.birth_date else "")
    ),
    "patient.sex": _patient(lambda p, _c: p.sex.value.title()),
    "patient.address": _patient(lambda p, _c: p.address),
    "patient.phones": _patient(
        lambda p, _c: "\n".join(f"{unbroken(ph.value)} ({ph.use})" if ph.use
                                else unbroken(ph.value) for ph in p.phones)
        or "no phone recorded"
    ),
    "patient.next_of_kin": _patient(
        lambda p, _c: "\n".join(
            " ".join(x for x in (k.name, f"({k.relationship})" if k.relationship else "",
                                 unbroken(k.phone)) if x)
            for k in p.next_of_kin
        ) or "none recorded"
    ),
    "patient.gp_practice": _patient(lambda p, _c: p.gp_practice),
    "patient.spo2_scale": _record(lambda r: str(r.spo2_scale) if r.spo2_scale else ""),
    "stay.ward": _ward,
    "stay.bed": _stay(lambda s: s.bed),
    "stay.consultant": _stay(lambda s: s.consultant),
    "stay.specialty": _stay(lambda s: s.specialty),
    "stay.admitted_at": _stay(
        lambda s: format_date(uk_time(s.admitted_at).date()) if s.admitted_at else ""
    ),
    "allergies.summary": _record(allergy_summary),
    "alerts.summary": _record(lambda r: "; ".join(a.text for a in r.alerts) or "none recorded"),
    "news2.latest": _record(latest_news2),
    "prescription.drug": _rx(lambda m: m.drug),
    "prescription.dose": _rx(lambda m: m.dose),
    "prescription.route": _rx(lambda m: m.route),
    "prescription.frequency": _rx(lambda m: m.frequency),
    "prescription.dose_times": _rx(lambda m: " ".join(m.dose_times)),
    "prescription.prn_indication": _rx(lambda m: m.prn_indication),
    "prescription.prn_max_24h": _rx(lambda m: m.prn_max_24h),
    "prescription.start_date": _rx(lambda m: format_date(m.start_date)),
    "prescription.last_administered": _rx(
        lambda m: format_uk(m.last_administered) if m.last_administered else ""
    ),
    "prescription.prescriber": _rx(lambda m: m.prescriber),
    "prescription.instructions": _rx(
        lambda m: "; ".join(x for x in (m.frequency, m.instructions) if x)
    ),
    "appointment.start": _appt(lambda a: format_time(a.start)),
    "appointment.clinician": _appt(lambda a: a.clinician),
    "appointment.location": _appt(lambda a: a.location),
    "appointment.description": _appt(lambda a: a.description),
    "appointment.status": _appt(lambda a: a.status),
    "theatre_case.planned_order": _case(lambda t: str(t.planned_order)),
    "theatre_case.planned_start": _case(lambda t: format_time(t.planned_start)),
    "theatre_case.procedure": _case(lambda t: t.procedure),
    "theatre_case.surgeon": _case(lambda t: t.surgeon),
    "theatre_case.anaesthetist": _case(lambda t: t.anaesthetist),
    "theatre_case.status": _case(lambda t: t.status),
}


def resolve(source: str | None, ctx: RowContext | None) -> str:
    """The printed text for ``source`` in ``ctx``; "" for blank forms or unknown facts.

    ``observation.*`` sources are filled by the chart renderer, per time point.
    """
    if source is None or ctx is None:
        return ""
    resolver = _RESOLVERS.get(source)
    return resolver(ctx) if resolver else ""
