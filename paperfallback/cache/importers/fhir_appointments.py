"""Outpatient appointments and theatre cases, both FHIR Appointments.

A theatre case is an Appointment with a participant Location typed as an operating room
(v3-RoleCode ``OR``). Its procedure is the Appointment's ``description`` (else its
serviceType), the surgeon and anaesthetist are Practitioner participants whose type is
SNOMED CT 304292004 |Surgeon| / 88189002 |Anaesthetist| (or v3 PPRF / SPRF, or those
words), and the planned order is the start-time order within the theatre's day.
Any other Appointment is outpatient: the clinic is a HealthcareService participant,
else the serviceType, else the specialty (docs/formats.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from paperfallback.cache.importers.as_of import parse_datetime
from paperfallback.cache.importers.fhir_files import Where
from paperfallback.cache.importers.fhir_people import Place, meta_time
from paperfallback.cache.importers.fhir_values import (
    Json,
    as_list,
    codes_of,
    dicts,
    display_of,
    reference_key,
    reference_type,
    texts_of,
)
from paperfallback.cache.staleness import UK
from paperfallback.domain.records import Appointment, TheatreCase
from paperfallback.domain.terminology import ANAESTHETIST, SURGEON

SURGEON_ROLES = frozenset({SURGEON.code, "PPRF"})  # SNOMED CT or HL7 v3 ParticipationType
ANAESTHETIST_ROLES = frozenset({ANAESTHETIST.code, "SPRF"})
CLINICIAN_ROLES = ("ATND", "PPRF", "CON")
LIVE_STATUS = frozenset({"booked", "arrived", "checked-in", "fulfilled", "pending"})
NEVER_STATUS = frozenset({"entered-in-error"})


@dataclass(frozen=True, slots=True)
class Participant:
    key: str
    display: str
    roles: frozenset[str]
    role_text: str


@dataclass(frozen=True, slots=True)
class PendingAppointment:
    id: str
    patient_ref: str
    status: str
    start: datetime | None
    end: datetime | None
    description: str
    service: str
    specialty: str
    people: tuple[Participant, ...]
    source_time: datetime | None
    where: Where


def read_appointment(res: Json, where: Where) -> PendingAppointment:
    people = tuple(
        Participant(
            key=reference_key(p.get("actor")),
            display=display_of(p.get("actor")),
            roles=frozenset().union(*(codes_of(t) for t in as_list(p.get("type")))),
            role_text=" ".join(texts_of(p.get("type"))).lower(),
        )
        for p in dicts(res.get("participant"))
    )
    start, end = res.get("start"), res.get("end")
    return PendingAppointment(
        id=str(res.get("id") or ""),
        patient_ref=next((p.key for p in people if reference_type(p.key) == "Patient"), ""),
        status=str(res.get("status") or ""),
        start=parse_datetime(start, field_name="start", where=where) if start else None,
        end=parse_datetime(end, field_name="end", where=where) if end else None,
        description=str(res.get("description") or "").strip(),
        service=", ".join(texts_of(res.get("serviceType"))),
        specialty=", ".join(texts_of(res.get("specialty"))),
        people=people,
        source_time=meta_time(res, where) or _created(res, where),
        where=where,
    )


def _created(res: Json, where: Where) -> datetime | None:
    created = res.get("created")
    return parse_datetime(created, field_name="created", where=where) if created else None


def _name(p: Participant, names: dict[str, str], places: dict[str, Place]) -> str:
    place = places.get(p.key)
    return names.get(p.key) or (place.name if place else "") or p.display


def _person_in_role(
    people: tuple[Participant, ...], roles: frozenset[str], word: str, names: dict[str, str]
) -> str:
    for p in people:
        if reference_type(p.key) in ("Practitioner", "PractitionerRole", "") and (
            p.roles & roles or word in p.role_text
        ):
            return names.get(p.key) or p.display
    return ""


def theatre_of(pending: PendingAppointment, places: dict[str, Place]) -> Place | None:
    for p in pending.people:
        place = places.get(p.key)
        if place is not None and place.is_theatre:
            return place
    return None


def to_appointment(
    pending: PendingAppointment, patient_id: str, names: dict[str, str],
    places: dict[str, Place],
) -> Appointment:
    assert pending.start is not None
    clinic = next(
        (_name(p, names, places) for p in pending.people
         if reference_type(p.key) == "HealthcareService"),
        "",
    ) or pending.service or pending.specialty or "Outpatients"
    clinician = ""
    for role in CLINICIAN_ROLES:
        clinician = next(
            (_name(p, names, places) for p in pending.people if role in p.roles
             and reference_type(p.key) != "Patient"), ""
        )
        if clinician:
            break
    if not clinician:
        clinician = next(
            (_name(p, names, places) for p in pending.people
             if reference_type(p.key) in ("Practitioner", "PractitionerRole")), ""
        )
    location = next(
        (_name(p, names, places) for p in pending.people
         if reference_type(p.key) == "Location"), ""
    )
    return Appointment(
        id=pending.id,
        patient_id=patient_id,
        clinic=clinic,
        start=pending.start,
        end=pending.end,
        clinician=clinician,
        location=location,
        status=pending.status or "booked",
        description=pending.description,
        source_time=pending.source_time,
    )


def to_theatre_cases(
    cases: list[tuple[PendingAppointment, str, Place]], names: dict[str, str]
) -> list[TheatreCase]:
    """Theatre cases numbered 1, 2, 3 ... by start time within each theatre's day."""
    by_list: dict[tuple[str, str], list[tuple[PendingAppointment, str, Place]]] = (
        defaultdict(list)
    )
    for item in cases:
        pending, _, theatre = item
        assert pending.start is not None
        day = pending.start.astimezone(UK).date().isoformat()
        by_list[(theatre.key, day)].append(item)
    result: list[TheatreCase] = []
    for items in by_list.values():
        items.sort(key=lambda i: (i[0].start or datetime.min.replace(tzinfo=UK), i[0].id))
        for order, (pending, patient_id, theatre) in enumerate(items, start=1):
            assert pending.start is not None
            result.append(TheatreCase(
                id=pending.id,
                patient_id=patient_id,
                theatre=theatre.name or theatre.code,
                session_date=pending.start.astimezone(UK).date(),
                planned_order=order,
                procedure=pending.description or pending.service or "procedure not stated",
                planned_start=pending.start,
                surgeon=_person_in_role(pending.people, SURGEON_ROLES, "surgeon", names),
                anaesthetist=_person_in_role(
                    pending.people, ANAESTHETIST_ROLES, "anaesth", names
                ),
                status=pending.status or "booked",
                source_time=pending.source_time,
            ))
    return result
