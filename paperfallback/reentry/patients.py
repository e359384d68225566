"""Identify the patient of a blank form from what the nurse wrote on it.

Match against the cache by NHS number (check digit verified first), else by family name,
given name and date of birth together (accents and case ignored: 'Gŵyn' = 'GWYN').
Anyone not found is recorded as a downtime patient under the form's pre-allocated
downtime number, so the EPR can merge them with a real record later. A name match that
fits more than one patient is never guessed: the clerk must key the NHS number.

A match by name and date of birth alone is only a proposal (issue #13 item 8): the form is
linked *unconfirmed* until a clerk confirms it is the same person (:func:`confirm_match`),
and an unconfirmed form is never exported; it is listed for the data manager. A match by
an identifier keyed from the paper (NHS or hospital number) needs no confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from paperfallback.cache.search_keys import fold
from paperfallback.cache.staleness import utc_now
from paperfallback.cache.store import CacheStore
from paperfallback.domain import nhs_number as nhs
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import Patient
from paperfallback.reentry.store import DowntimePatient, EntriesStore

UNCONFIRMED = "unconfirmed:"  # patient_match of a name-only match awaiting a clerk
CONFIRMED_BY = " confirmed by "


@dataclass(frozen=True, slots=True)
class PatientMatch:
    patient: Patient | None
    how: str  # "nhs_number", "name_and_birth_date", "downtime:<number>" or "none"
    candidates: tuple[Patient, ...] = ()

    @property
    def found(self) -> bool:
        return self.patient is not None


def match_patient(
    cache: CacheStore,
    *,
    nhs_number: str | None = None,
    hospital_number: str | None = None,
    family: str = "",
    given: str = "",
    birth_date: date | None = None,
) -> PatientMatch:
    """The cached patient these details identify, or no match (never a guess)."""
    if hospital_number and hospital_number.strip():
        try:
            return PatientMatch(cache.find_patient(hospital_number), "hospital_number")
        except InputError:
            pass
    if nhs_number:
        digits = nhs.normalise(nhs_number)
        rows = [r.patient for r in cache.patients(search=digits) if r.patient.nhs_number == digits]
        if rows:
            return PatientMatch(rows[0], "nhs_number")
    if family and given and birth_date:
        rows = [
            r.patient for r in cache.patients(search=f"{family}, {given}")
            if fold(r.patient.family) == fold(family) and fold(r.patient.given) == fold(given)
            and r.patient.birth_date == birth_date
        ]
        if len(rows) == 1:
            return PatientMatch(rows[0], "name_and_birth_date")
        if len(rows) > 1:
            return PatientMatch(None, "none", tuple(rows))
    return PatientMatch(None, "none")


def identify_blank_form(
    store: EntriesStore,
    cache: CacheStore | None,
    *,
    instance_id: str,
    downtime_number: str | None,
    clerk: str,
    nhs_number: str | None = None,
    hospital_number: str | None = None,
    family: str = "",
    given: str = "",
    birth_date: date | None = None,
    sex: str = "unknown",
    match: bool = True,
) -> PatientMatch:
    """Link a blank form to a cached patient, or record a downtime patient.

    ``match=False``: the clerk said the proposed patient is not this person, so the form
    is recorded as a downtime patient without matching again.
    """
    found = (
        match_patient(cache, nhs_number=nhs_number, hospital_number=hospital_number,
                      family=family, given=given, birth_date=birth_date)
        if cache is not None and match else PatientMatch(None, "none")
    )
    match_ = found
    if match_.candidates:
        raise InputError(
            f"{len(match_.candidates)} patients are called {family.upper()}, {given} born "
            f"{birth_date:%d-%b-%Y}: key the NHS or hospital number to tell them apart"
        )
    if match_.patient is not None:
        how = match_.how
        if how == "name_and_birth_date":
            how = UNCONFIRMED + how  # a proposal until a clerk confirms it
        store.set_patient(instance_id, match_.patient.id, how)
        return PatientMatch(match_.patient, how, match_.candidates)
    if not downtime_number:
        raise InputError(
            "no patient in the cache matches these details and this form carries no "
            "downtime number: check the NHS number, name and date of birth on the paper"
        )
    if not (family and given):
        raise InputError("a new downtime patient needs at least a family and a given name")
    store.record_downtime_patient(DowntimePatient(
        downtime_number=downtime_number, instance_id=instance_id,
        nhs_number=nhs.normalise(nhs_number) if nhs_number else None,
        hospital_number=hospital_number or None, family=family, given=given,
        birth_date=birth_date.isoformat() if birth_date else None, sex=sex,
        recorded_by=clerk, recorded_at=utc_now(),
    ))
    how = f"downtime:{downtime_number}"
    store.set_patient(instance_id, downtime_number, how)
    return PatientMatch(None, how)


def is_unconfirmed(patient_match: str) -> bool:
    return patient_match.startswith(UNCONFIRMED)


def confirm_match(store: EntriesStore, instance_id: str, *, by: str) -> str:
    """A clerk confirms the proposed patient is the person on the paper; returns the new
    ``patient_match`` (which records who confirmed it)."""
    record = store.instance(instance_id)
    if record is None or not record.patient_id or not is_unconfirmed(record.patient_match):
        raise InputError(f"form {instance_id} has no patient match waiting to be confirmed")
    if not by.strip():
        raise InputError("name the clerk who confirms the patient")
    how = record.patient_match.removeprefix(UNCONFIRMED) + CONFIRMED_BY + by.strip()
    store.set_patient(instance_id, record.patient_id, how)
    return how
