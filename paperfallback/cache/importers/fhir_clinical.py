"""Allergies, alerts and medicines: AllergyIntolerance, Flag, MedicationRequest and
MedicationAdministration, as UK Core models them.

A recorded "no known allergies" (SNOMED 716186003 and its drug, food and environment
siblings) is kept as ``Allergy(no_known_allergies=True)`` so it is never confused with
nothing recorded (see AllergyStatus).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from paperfallback.cache.importers.as_of import parse_datetime
from paperfallback.cache.importers.fhir_files import Where
from paperfallback.cache.importers.fhir_people import meta_time
from paperfallback.cache.importers.fhir_values import (
    DMD_SYSTEMS,
    LAST_ADMINISTERED_URL,
    SPO2_SCALE_SYSTEM,
    Json,
    as_list,
    codes_of,
    dicts,
    display_of,
    extension_value,
    first_code,
    number_text,
    quantity_text,
    quantity_unit,
    reference_key,
    text_of,
    texts_of,
)
from paperfallback.cache.staleness import UK
from paperfallback.domain.plausible import CHECK_DOSE, amount_problem, range_problem
from paperfallback.domain.records import Alert, Allergy, Prescription, PrescriptionKind
from paperfallback.domain.terminology import NO_KNOWN_ALLERGY_CODES, SPO2_SCALE_FLAG_CODES

_SEVERITY_ORDER = {"mild": 1, "moderate": 2, "severe": 3}
ACTIVE_ORDER_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
)
_ONCE_CODES = frozenset({"ONCE", "STAT", "once", "stat"})


def _clinical_status(res: Json) -> str:
    codes = codes_of(res.get("clinicalStatus"))
    return next(iter(codes)) if codes else ""


def map_allergy(res: Json, where: Where) -> tuple[Allergy, str, bool]:
    """(allergy with its patient reference in ``patient_id``, status, is usable)."""
    verification = codes_of(res.get("verificationStatus"))
    usable = not (verification & {"entered-in-error", "refuted"})
    reactions = dicts(res.get("reaction"))
    manifestations: list[str] = []
    for reaction in reactions:
        for text in texts_of(reaction.get("manifestation")):
            if text not in manifestations:
                manifestations.append(text)
    severity = max(
        (str(r.get("severity")) for r in reactions if r.get("severity") in _SEVERITY_ORDER),
        key=_SEVERITY_ORDER.__getitem__,
        default="",
    )
    code = res.get("code")
    nka = bool(codes_of(code) & NO_KNOWN_ALLERGY_CODES)
    recorded = res.get("recordedDate") or res.get("onsetDateTime")
    allergy = Allergy(
        id=str(res.get("id") or ""),
        patient_id=reference_key(res.get("patient")),
        substance=text_of(code) or "substance not stated",
        reaction=", ".join(manifestations),
        severity=severity,
        criticality=str(res.get("criticality") or ""),
        category=", ".join(str(c) for c in as_list(res.get("category"))),
        no_known_allergies=nka,
        source_time=meta_time(res, where) or (
            parse_datetime(recorded, field_name="recordedDate", where=where) if recorded else None
        ),
    )
    return allergy, _clinical_status(res) or "active", usable


@dataclass(frozen=True, slots=True)
class PendingFlag:
    alert: Alert
    status: str
    ends: datetime | None
    spo2_scale: int | None


def map_flag(res: Json, where: Where) -> PendingFlag:
    period = res.get("period") or {}
    code = res.get("code")
    scale_code = first_code(code, (SPO2_SCALE_SYSTEM,))
    alert = Alert(
        id=str(res.get("id") or ""),
        patient_id=reference_key(res.get("subject")),
        text=text_of(code) or "alert (no text)",
        category=", ".join(texts_of(res.get("category"))),
        code=next(iter(sorted(codes_of(code))), ""),
        source_time=meta_time(res, where) or (
            parse_datetime(period["start"], field_name="period.start", where=where)
            if period.get("start") else None
        ),
    )
    return PendingFlag(
        alert=alert,
        status=str(res.get("status") or ""),
        ends=(
            parse_datetime(period["end"], field_name="period.end", where=where)
            if period.get("end") else None
        ),
        spo2_scale=SPO2_SCALE_FLAG_CODES.get(scale_code),
    )


@dataclass(frozen=True, slots=True)
class PendingPrescription:
    prescription: Prescription  # patient_id holds the patient reference until resolved
    status: str
    intent: str
    medication_ref: str
    requester_ref: str
    where: Where
    problems: tuple[str, ...] = ()  # why a dose, rate or maximum prints as CHECK_DOSE


def map_medication_request(res: Json, where: Where) -> PendingPrescription:
    dosages = dicts(res.get("dosageInstruction"))
    dosage = dosages[0] if dosages else {}
    timing = dosage.get("timing") or {}
    repeat = timing.get("repeat") or {}
    rates = dicts(dosage.get("doseAndRate"))
    dose = next((t for t in (_dose_text(d) for d in rates) if t), "")
    kind = _kind(dosage, timing, repeat, rates)
    rate = next((t for t in (_rate_text(d) for d in rates) if t), "")
    if rate:
        dose = f"{dose} at {rate}" if dose else rate
    authored = res.get("authoredOn")
    authored_at = (
        parse_datetime(authored, field_name="authoredOn", where=where) if authored else None
    )
    bounds_start = (repeat.get("boundsPeriod") or {}).get("start")
    start = (
        parse_datetime(bounds_start, field_name="timing.repeat.boundsPeriod.start", where=where)
        if bounds_start else authored_at
    )
    problems = [p for d in rates for p in (_dose_problem(d), _rate_problem(d)) if p]
    if problems:
        dose = CHECK_DOSE
    most = dosage.get("maxDosePerPeriod")
    max_problem = _ratio_problem(most, "maximum dose") if isinstance(most, dict) else ""
    if max_problem:
        problems.append(max_problem)
    last = extension_value(res, LAST_ADMINISTERED_URL)
    medication = res.get("medicationCodeableConcept")
    prescription = Prescription(
        id=str(res.get("id") or ""),
        patient_id=reference_key(res.get("subject")),
        drug=text_of(medication) or display_of(res.get("medicationReference")),
        dose=dose,
        route=text_of(dosage.get("route")),
        frequency=_frequency(timing, repeat),
        dose_times=tuple(str(t)[:5] for t in as_list(repeat.get("timeOfDay"))),
        kind=kind,
        prn_indication=text_of(dosage.get("asNeededCodeableConcept")),
        prn_max_24h=CHECK_DOSE if max_problem else _max_per_period(most),
        start_date=_uk_date(start),
        last_administered=(
            parse_datetime(last, field_name="extension last-administered", where=where)
            if last else None
        ),
        prescriber=display_of(res.get("requester")),
        instructions="; ".join(
            str(d["text"]).strip() for d in dosages if isinstance(d.get("text"), str)
        ),
        drug_code=first_code(medication, DMD_SYSTEMS) if medication else "",
        source_time=meta_time(res, where) or authored_at,
    )
    return PendingPrescription(
        prescription=prescription,
        status=str(res.get("status") or ""),
        intent=str(res.get("intent") or ""),
        medication_ref=reference_key(res.get("medicationReference")),
        requester_ref=reference_key(res.get("requester")),
        where=where,
        problems=tuple(problems),
    )


def _uk_date(moment: datetime | None) -> date | None:
    return moment.astimezone(UK).date() if moment else None


def _dose_text(dose_and_rate: Json) -> str:
    if dose_and_rate.get("doseQuantity"):
        return quantity_text(dose_and_rate["doseQuantity"])
    dose_range = dose_and_rate.get("doseRange")
    if isinstance(dose_range, dict):
        low, high = dose_range.get("low") or {}, dose_range.get("high") or {}
        if low.get("value") is not None and high.get("value") is not None:
            return f"{number_text(low['value'])}-{quantity_text(high)}"
    return ""


def _quantity_problem(quantity: object, what: str) -> str:
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        return ""
    return amount_problem(quantity["value"], quantity_unit(quantity), what=what)


def _dose_problem(dose_and_rate: Json) -> str:
    """Why this dose cannot be printed (domain.plausible), '' if it can."""
    if dose_and_rate.get("doseQuantity"):
        return _quantity_problem(dose_and_rate["doseQuantity"], "dose")
    dose_range = dose_and_rate.get("doseRange")
    if isinstance(dose_range, dict):
        low, high = dose_range.get("low") or {}, dose_range.get("high") or {}
        if isinstance(low, dict) and isinstance(high, dict) and (
                low.get("value") is not None and high.get("value") is not None):
            return range_problem(low["value"], high["value"], quantity_unit(high))
    return ""


def _rate_problem(dose_and_rate: Json) -> str:
    if dose_and_rate.get("rateQuantity"):
        return _quantity_problem(dose_and_rate["rateQuantity"], "rate")
    ratio = dose_and_rate.get("rateRatio")
    return _ratio_problem(ratio, "rate") if isinstance(ratio, dict) else ""


def _ratio_problem(ratio: Json, what: str) -> str:
    """A rate or maximum per period: the amount possible, and a period that is not 0."""
    return _quantity_problem(ratio.get("numerator"), what) or _quantity_problem(
        ratio.get("denominator"), f"{what} period")


def _rate_text(dose_and_rate: Json) -> str:
    if dose_and_rate.get("rateQuantity"):
        return quantity_text(dose_and_rate["rateQuantity"])
    ratio = dose_and_rate.get("rateRatio")
    if isinstance(ratio, dict):
        num, den = ratio.get("numerator") or {}, ratio.get("denominator") or {}
        den_value = den.get("value")
        per = quantity_text(den) if den_value not in (None, 1) else str(den.get("unit") or "")
        return f"{quantity_text(num)}/{per}"
    return ""


def _kind(
    dosage: Json, timing: Json, repeat: Json, rates: list[Json]
) -> PrescriptionKind:
    if dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"):
        return PrescriptionKind.PRN
    if any(_rate_text(r) for r in rates) or "infusion" in text_of(dosage.get("method")).lower():
        return PrescriptionKind.INFUSION
    if repeat.get("count") == 1 or codes_of(timing.get("code")) & _ONCE_CODES:
        return PrescriptionKind.ONCE
    return PrescriptionKind.REGULAR


_TIMES_A_DAY = {1: "once a day", 2: "twice a day", 3: "three times a day",
                4: "four times a day", 5: "five times a day", 6: "six times a day"}
_UNITS = {"s": "second", "min": "minute", "h": "hour", "d": "day", "wk": "week",
          "mo": "month", "a": "year"}


def _frequency(timing: Json, repeat: Json) -> str:
    """'four times a day', 'every 6 hours', or the timing code's text."""
    text = text_of(timing.get("code"))
    if text:
        return text
    frequency, period = repeat.get("frequency"), repeat.get("period")
    unit = _UNITS.get(str(repeat.get("periodUnit") or ""), "")
    if repeat.get("count") == 1:
        return "once only"
    if not unit or period is None:
        return ""
    frequency = frequency or 1
    if period == 1 and unit == "day" and frequency in _TIMES_A_DAY:
        return _TIMES_A_DAY[frequency]
    if frequency == 1:
        return f"every {number_text(period)} {unit}{'s' if period != 1 else ''}"
    return f"{frequency} times every {number_text(period)} {unit}{'s' if period != 1 else ''}"


def _max_per_period(ratio: object) -> str:
    """maxDosePerPeriod as '4 g / 24 h' (as printed on a MAR's PRN section)."""
    if not isinstance(ratio, dict):
        return ""
    num, den = ratio.get("numerator") or {}, ratio.get("denominator") or {}
    if num.get("value") is None:
        return ""
    return f"{quantity_text(num)} / {quantity_text(den) or '24 h'}"


def administration_time(res: Json, where: Where) -> tuple[str, datetime | None]:
    """(the MedicationRequest it fulfils, when it was given) for a completed administration."""
    if res.get("status") != "completed":
        return "", None
    when = res.get("effectiveDateTime") or (res.get("effectivePeriod") or {}).get("start")
    if not when:
        return "", None
    return (
        reference_key(res.get("request")),
        parse_datetime(when, field_name="effectiveDateTime", where=where),
    )
