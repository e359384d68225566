"""Patients, clinicians and places: Patient, Practitioner, Location and Encounter.

An inpatient Encounter becomes the patient's current stay. Ward and bed come from its
Locations: a Location with physicalType ``bd`` is a bed, ``wa`` a ward; a bed's ward is
found by walking ``partOf``. Without physical types, a listed Location whose ``partOf``
is another Location is the bed and that parent is the ward (docs/formats.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime

from paperfallback.cache.importers.as_of import parse_date, parse_datetime
from paperfallback.cache.importers.fhir_files import Where
from paperfallback.cache.importers.fhir_values import (
    NHS_NUMBER_SYSTEM,
    Json,
    address_text,
    as_list,
    codes_of,
    dicts,
    display_of,
    family_of,
    given_of,
    person_name,
    pick_name,
    reference_key,
    text_of,
)
from paperfallback.cache.importers.identity import death_from_fhir, name_fields
from paperfallback.domain.errors import InputError, InvalidNhsNumber
from paperfallback.domain.names import clean_name
from paperfallback.domain.nhs_number import normalise
from paperfallback.domain.records import NextOfKin, Patient, Phone, Sex, Stay, Ward

PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
CURRENT_ENCOUNTER = frozenset({"in-progress", "arrived", "triaged", "onleave"})
NEVER_ENCOUNTER = frozenset({"entered-in-error", "cancelled"})
INPATIENT_CLASSES = frozenset({"IMP", "ACUTE", "NONAC", "SS", "inpatient"})
CONSULTANT_ROLES = ("CON", "ATND", "PPRF")
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # HL7 v2 identifier types
MEDICAL_RECORD = "MR"  # v3-ParticipationType, in order of preference


_SEEN_TIMES: dict[str, datetime] = {}


def meta_time(resource: Json, where: Where) -> datetime | None:
    """meta.lastUpdated; a whole export often shares a handful of these, so parse each once."""
    meta = resource.get("meta")
    updated = meta.get("lastUpdated") if isinstance(meta, dict) else None
    if not updated:
        return None
    known = _SEEN_TIMES.get(updated) if isinstance(updated, str) else None
    if known is None:
        known = parse_datetime(updated, field_name="meta.lastUpdated", where=where)
        if len(_SEEN_TIMES) < 10_000:
            _SEEN_TIMES[updated] = known
    return known


def _sex(value: object) -> Sex:
    try:
        return Sex(str(value)) if value else Sex.UNKNOWN
    except ValueError:
        return Sex.UNKNOWN


def map_patient(res: Json, where: Where, hospital_systems: tuple[str, ...]) -> Patient:
    """A Patient, with its NHS number checked by Modulus 11 (an invalid one fails)."""
    rid = str(res.get("id") or "")
    if not rid:
        raise InputError("Patient has no id", where=str(where))
    nhs: str | None = None
    hospital: str | None = None
    medical_record: str | None = None
    hospital_rank = len(hospital_systems)
    for ident in dicts(res.get("identifier")):
        system, value = ident.get("system"), ident.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        if system == NHS_NUMBER_SYSTEM and nhs is None:
            try:
                nhs = normalise(value)
            except InvalidNhsNumber as exc:
                raise InvalidNhsNumber(
                    f"Patient {rid!r}, field identifier (NHS number): {exc}", where=str(where)
                ) from None
        elif system in hospital_systems and hospital_systems.index(system) < hospital_rank:
            hospital, hospital_rank = value.strip(), hospital_systems.index(system)
        elif medical_record is None and MEDICAL_RECORD in codes_of(ident.get("type"), V2_0203):
            medical_record = value.strip()
    # A configured system wins; else the identifier typed MR (HL7 v2-0203 "Medical record
    # number"), which is how most EPRs and Synthea mark the hospital number (issue 14, 3).
    hospital = hospital or medical_record
    name = pick_name(res.get("name"))
    deceased, died_on = death_from_fhir(
        res.get("deceasedBoolean"), res.get("deceasedDateTime"), where
    )
    phones = tuple(
        Phone(str(t["value"]).strip(), str(t.get("use") or ""))
        for t in dicts(res.get("telecom"))
        if t.get("system") in ("phone", "sms") and t.get("value") and not _ended(t)
    )
    return Patient(
        id=sys.intern(rid),
        nhs_number=nhs,
        hospital_number=hospital,
        **name_fields(family_of(name), given_of(name)),
        birth_date=parse_date(res.get("birthDate"), field_name="birthDate", where=where),
        sex=_sex(res.get("gender")),
        address=address_text(res.get("address")),
        phones=phones,
        next_of_kin=tuple(_next_of_kin(c) for c in dicts(res.get("contact"))),
        gp_practice=", ".join(
            d for d in (display_of(g) for g in as_list(res.get("generalPractitioner"))) if d
        ),
        source_time=meta_time(res, where),
        deceased=deceased,
        deceased_date=died_on,
    )


def gp_references(res: Json) -> list[str]:
    return [reference_key(g) for g in dicts(res.get("generalPractitioner"))]


def _ended(point: Json) -> bool:
    return bool((point.get("period") or {}).get("end"))


def _next_of_kin(contact: Json) -> NextOfKin:
    name = contact.get("name") or {}
    text = name.get("text") if isinstance(name, dict) else None
    if isinstance(name, dict) and (name.get("family") or name.get("given")):
        full = " ".join(p for p in (given_of(name), family_of(name)) if p)
    else:
        full = str(text or "").strip()
    phone = next(
        (str(t["value"]).strip() for t in dicts(contact.get("telecom"))
         if t.get("system") in ("phone", "sms") and t.get("value")),
        "",
    )
    relationship = ", ".join(text_of(r) for r in as_list(contact.get("relationship")) if r)
    return NextOfKin(name=clean_name(full), relationship=relationship, phone=phone)


@dataclass(frozen=True, slots=True)
class Place:
    """What the import needs of a Location."""

    key: str
    code: str
    name: str
    part_of: str
    physical: frozenset[str]
    types: frozenset[str]

    @property
    def is_ward(self) -> bool:
        return "wa" in self.physical

    @property
    def is_bed(self) -> bool:
        return "bd" in self.physical

    @property
    def is_site(self) -> bool:
        return bool(self.physical & {"si", "bu"}) or "HOSP" in self.types

    @property
    def is_theatre(self) -> bool:
        return "OR" in self.types  # v3-RoleCode OR: operating room

    def ward(self) -> Ward:
        return Ward(code=self.code, name=self.name or self.code)


def map_location(res: Json, aliases: dict[str, str] | None = None) -> Place:
    rid = str(res.get("id") or "")
    code = next(
        (str(i["value"]).strip() for i in dicts(res.get("identifier")) if i.get("value")), rid
    )
    return Place(
        key=f"Location/{rid}",
        code=code,
        name=str(res.get("name") or "").strip(),
        part_of=reference_key(res.get("partOf"), aliases),
        physical=frozenset(codes_of(res.get("physicalType"))),
        types=frozenset().union(*(codes_of(t) for t in as_list(res.get("type")))),
    )


def practitioner_name(res: Json) -> str:
    return person_name(res.get("name"))


@dataclass(frozen=True, slots=True)
class PendingStay:
    """An Encounter kept until every Location and Practitioner has been read."""

    id: str
    patient_ref: str
    status: str
    locations: tuple[tuple[str, str, str], ...]  # (key, display, status)
    participants: tuple[tuple[str, str, frozenset[str]], ...]  # (key, display, role codes)
    specialty: str
    admitted_at: datetime | None
    ended_at: datetime | None
    site_display: str
    source_time: datetime | None
    where: Where


def read_encounter(res: Json, where: Where) -> PendingStay | None:
    """None for encounters that are not inpatient stays."""
    klass = res.get("class")
    klass_code = str(klass.get("code") or "") if isinstance(klass, dict) else ""
    if klass_code and klass_code not in INPATIENT_CLASSES:
        return None
    period = res.get("period") or {}
    return PendingStay(
        id=str(res.get("id") or ""),
        patient_ref=reference_key(res.get("subject")),
        status=str(res.get("status") or ""),
        locations=tuple(
            (reference_key(loc.get("location")), display_of(loc.get("location")),
             str(loc.get("status") or ""))
            for loc in dicts(res.get("location"))
        ),
        participants=tuple(
            (reference_key(p.get("individual")), display_of(p.get("individual")),
             frozenset().union(*(codes_of(t) for t in as_list(p.get("type")))))
            for p in dicts(res.get("participant"))
        ),
        specialty=text_of(res.get("serviceType")),
        admitted_at=(
            parse_datetime(period["start"], field_name="period.start", where=where)
            if period.get("start") else None
        ),
        ended_at=(
            parse_datetime(period["end"], field_name="period.end", where=where)
            if period.get("end") else None
        ),
        site_display=display_of(res.get("serviceProvider")),
        source_time=meta_time(res, where),
        where=where,
    )


def is_current(stay: PendingStay, current_only: bool) -> bool:
    if stay.status in NEVER_ENCOUNTER:
        return False
    return stay.status in CURRENT_ENCOUNTER or not current_only


def resolve_stay(
    pending: PendingStay,
    patient_id: str,
    places: dict[str, Place],
    names: dict[str, str],
) -> tuple[Stay, Ward]:
    """The Stay and its Ward; a current stay whose ward cannot be found fails the import,
    because the patient would silently drop off every ward list."""
    listed: list[Place] = []
    for key, display, status in pending.locations:
        if status == "completed" and len(pending.locations) > 1:
            continue
        place = places.get(key)
        if place is None and display:
            place = Place(key, key.rsplit("/", 1)[-1], display, "", frozenset(), frozenset())
        if place is None:
            raise InputError(
                f"Encounter {pending.id!r}, field location: {key or 'a location'} is not in "
                "the extract and has no display name, so the patient's ward is unknown",
                where=str(pending.where),
            )
        listed.append(place)
    if not listed:
        raise InputError(
            f"Encounter {pending.id!r} (a current inpatient stay) has no location (ward)",
            where=str(pending.where),
        )
    ward, bed = _ward_and_bed(listed, places)
    if ward.is_bed:
        raise InputError(
            f"Encounter {pending.id!r}, field location: bed {ward.name or ward.key!r} belongs to "
            f"{ward.part_of or 'no ward'} (partOf), which is not in the extract, so the "
            "patient's ward is unknown",
            where=str(pending.where),
        )
    site = _site(ward, places) or pending.site_display
    consultant = _consultant(pending.participants, names)
    stay = Stay(
        id=pending.id,
        patient_id=patient_id,
        ward_code=ward.code,
        bed=bed.name if bed else "",
        site=site,
        consultant=consultant,
        specialty=pending.specialty,
        admitted_at=pending.admitted_at,
        source_time=pending.source_time or pending.admitted_at,
    )
    return stay, Ward(code=ward.code, name=ward.name or ward.code, site=site)


def _ancestor(place: Place, places: dict[str, Place], test: str) -> Place | None:
    seen: set[str] = set()
    current = places.get(place.part_of)
    while current is not None and current.key not in seen:
        if getattr(current, test):
            return current
        seen.add(current.key)
        current = places.get(current.part_of)
    return None


def _ward_and_bed(listed: list[Place], places: dict[str, Place]) -> tuple[Place, Place | None]:
    bed = next((p for p in listed if p.is_bed), None)
    ward = next((p for p in listed if p.is_ward), None)
    if ward is None and bed is not None:
        ward = _ancestor(bed, places, "is_ward") or places.get(bed.part_of)
    if ward is None:
        keys = {p.key for p in listed}
        child = next((p for p in listed if p.part_of in keys), None)
        if child is None:
            child = next(
                (p for p in listed
                 if p.part_of in places and not places[p.part_of].is_site), None,
            )
        if child is not None:
            bed, ward = child, places.get(child.part_of) or next(
                p for p in listed if p.key == child.part_of
            )
        else:
            ward = listed[0]
    if bed is None:
        bed = next((p for p in listed if p.part_of == ward.key and p is not ward), None)
    return ward, bed


def _site(ward: Place, places: dict[str, Place]) -> str:
    site = _ancestor(ward, places, "is_site")
    return site.name if site else ""


def _consultant(
    participants: tuple[tuple[str, str, frozenset[str]], ...], names: dict[str, str]
) -> str:
    people = [p for p in participants if p[0].startswith("Practitioner") or p[1]]
    for role in CONSULTANT_ROLES:
        for key, display, roles in people:
            if role in roles:
                return names.get(key) or display
    for key, display, _ in people:
        return names.get(key) or display
    return ""
