"""The synthetic demo hospital, written as a FHIR Bulk Data extract (NDJSON + manifest).

It goes through the real importer, so a first start exercises the production path.
Deterministic for (seed, now). Synthetic only: NHS numbers from the reserved test range
999 000 0000 - 999 999 9999 with a valid Modulus 11 check digit; made-up names from
English, Welsh, Scottish, Irish and other UK communities (incl. ŵ ŷ â ï ł ö é ñ).

This module holds the hospital's shape (people, wards and beds, inpatients, clinics,
theatres) and the public entry points; each inpatient's clinical records are in
:mod:`paperfallback.cache.demo_clinical`, the data tables in
:mod:`paperfallback.cache.demo_tables` and the NDJSON writing in
:mod:`paperfallback.cache.demo_fhir`.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paperfallback.cache.demo_clinical import ClinicalRecords
from paperfallback.cache.demo_fhir import (
    PARTICIPATION,
    PHYSICAL,
    ROLE_CODE,
    BulkWriter,
    Json,
    coding,
    iso,
    ref,
    role,
)
from paperfallback.cache.demo_tables import (
    CLINICIANS,
    CLINICS,
    FAMILY,
    GIVEN_FEMALE,
    GIVEN_MALE,
    PROCEDURES,
    SPECIALTIES,
    STREETS,
    THEATRES,
    TOWNS,
    WARD_NAMES,
)
from paperfallback.cache.staleness import UK
from paperfallback.cache.store import CacheStore, ImportResult
from paperfallback.domain import terminology as terms
from paperfallback.domain.nhs_number import check_digit
from paperfallback.domain.terminology import NHS_NUMBER_SYSTEM
from paperfallback.settings import LOCAL_PATIENT_ID_SYSTEM

_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
WARD_CODE_SYSTEM = "https://fhir.paperfallback.example/Id/ward-code"
DEMO_SEED = 2018  # the seed the demo command and the app's button use by default
FULL_WARD_BEDS = 28  # the demo's first ward: full, as NHS wards run (issues 4 and 5)
FULL_WARD_CODE = "W3"  # that ward's code (wards are numbered 3, 5, 7, ...)


class _Hospital(ClinicalRecords):
    """Generates one demo hospital; every choice comes from one seeded Random."""

    def __init__(self, seed: int, now: datetime, writer: BulkWriter) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.out = writer
        self.nhs_used: set[str] = set()
        self.patients = 0
        self.meta = {"lastUpdated": iso(now - timedelta(minutes=2))}

    # ---- people -------------------------------------------------------------------------

    def nhs_number(self) -> str:
        while True:
            first = f"999{self.rng.randrange(1_000_000):06d}"
            digit = check_digit(first)
            if digit is not None and first + str(digit) not in self.nhs_used:
                self.nhs_used.add(first + str(digit))
                return first + str(digit)

    def patient(self, *, age_range: tuple[int, int], with_nhs: bool = True) -> tuple[str, Json]:
        self.patients += 1
        rng = self.rng
        pid = f"pt-{self.patients:05d}"
        female = rng.random() < 0.5
        given = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
        middle = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE) if rng.random() < 0.3 else ""
        family = rng.choice(FAMILY)
        age = rng.randint(*age_range)
        born = self.now.date() - timedelta(days=age * 365 + rng.randrange(365))
        town, postcode = rng.choice(TOWNS)
        identifiers = [{"system": LOCAL_PATIENT_ID_SYSTEM, "value": f"DH{100000 + self.patients}"}]
        if with_nhs:
            identifiers.insert(0, {"system": NHS_NUMBER_SYSTEM, "value": self.nhs_number()})
        kin_given = rng.choice(GIVEN_MALE if female else GIVEN_FEMALE)
        resource = {
            "resourceType": "Patient", "id": pid, "meta": self.meta,
            "identifier": identifiers,
            "name": [{"use": "official", "family": family,
                      "given": [g for g in (given, middle) if g],
                      "prefix": ["Mrs" if female else "Mr"]}],
            "telecom": [
                {"system": "phone", "use": "home",
                 "value": f"0{rng.randint(1100, 2999)} {rng.randint(100000, 999999)}"},
                {"system": "phone", "use": "mobile",
                 "value": f"07{rng.randint(700, 999)} {rng.randint(100000, 999999)}"},
            ],
            "gender": "female" if female else "male",
            "birthDate": born.isoformat(),
            "address": [{"use": "home",
                         "line": [f"{rng.randint(1, 120)} {rng.choice(STREETS)}"],
                         "city": town,
                         "postalCode": f"{postcode} {rng.randint(1, 9)}{rng.choice(_LETTERS)}"
                                       f"{rng.choice(_LETTERS)}"}],
            "contact": [{
                "relationship": [{"coding": [coding(
                    "http://terminology.hl7.org/CodeSystem/v2-0131", "N", "Next-of-Kin")],
                                  "text": rng.choice(("Daughter", "Son", "Husband", "Wife",
                                                      "Partner", "Sister", "Brother"))}],
                "name": {"family": family if rng.random() < 0.7 else rng.choice(FAMILY),
                         "given": [kin_given]},
                "telecom": [{"system": "phone",
                             "value": f"07{rng.randint(700, 999)} {rng.randint(100000, 999999)}",
                             "use": "mobile"}],
            }],
            "generalPractitioner": [{"display": f"{rng.choice(('Meddygfa', 'The'))} "
                                                f"{rng.choice(STREETS)} Surgery"}],
        }
        self.out.write(resource)
        return pid, resource

    def practitioners(self) -> list[tuple[str, str]]:
        people = []
        for n, (prefix, given, family) in enumerate(CLINICIANS, start=1):
            rid = f"pr-{n:03d}"
            self.out.write({"resourceType": "Practitioner", "id": rid, "meta": self.meta,
                            "name": [{"family": family, "given": [given], "prefix": [prefix]}]})
            people.append((rid, f"{prefix} {given} {family}"))
        return people

    # ---- places -------------------------------------------------------------------------

    def site(self) -> str:
        self.out.write({
            "resourceType": "Location", "id": "site", "meta": self.meta,
            "name": "Ysbyty Cyffredinol Demo / Demo General Hospital",
            "type": [{"coding": [coding(ROLE_CODE, "HOSP", "Hospital")]}],
            "physicalType": {"coding": [coding(PHYSICAL, "si", "Site")]},
        })
        return "site"

    def ward(self, number: int, name: str, beds: int) -> tuple[str, list[str]]:
        wid = f"ward-{number}"
        self.out.write({
            "resourceType": "Location", "id": wid, "meta": self.meta,
            "identifier": [{"system": WARD_CODE_SYSTEM, "value": f"W{number}"}],
            "name": f"Ward {number} — {name}",
            "physicalType": {"coding": [coding(PHYSICAL, "wa", "Ward")]},
            "partOf": ref("Location", "site"),
        })
        bed_ids = []
        for n in range(1, beds + 1):
            label = f"Bed {n}" if n <= beds - 4 else f"Side room {n - beds + 4}"
            bid = f"{wid}-bed-{n}"
            self.out.write({
                "resourceType": "Location", "id": bid, "meta": self.meta, "name": label,
                "physicalType": {"coding": [coding(PHYSICAL, "bd", "Bed")]},
                "partOf": ref("Location", wid),
            })
            bed_ids.append(bid)
        return wid, bed_ids

    # ---- an inpatient -------------------------------------------------------------------

    def inpatient(
        self, ward_id: str, bed_id: str, bed_index: int, specialty: str,
        consultant: tuple[str, str], obs_hours: float | None,
    ) -> None:
        rng = self.rng
        pid, _ = self.patient(age_range=(18, 97), with_nhs=rng.random() > 0.03)
        admitted = self.now - timedelta(hours=rng.randint(6, 24 * 21))
        self.out.write({
            "resourceType": "Encounter", "id": f"enc-{pid}", "meta": self.meta,
            "status": "in-progress",
            "class": coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP",
                            "inpatient encounter"),
            "subject": ref("Patient", pid),
            "participant": [{"type": [{"coding": [coding(PARTICIPATION, "ATND", "attender")]}],
                             "individual": ref("Practitioner", consultant[0], consultant[1])}],
            "period": {"start": iso(admitted)},
            "serviceType": {"text": specialty},
            "location": [{"location": ref("Location", bed_id), "status": "active"},
                         {"location": ref("Location", ward_id), "status": "active"}],
        })
        allergic_to = self.allergies(pid, bed_index, admitted)
        scale2 = (specialty == "Respiratory medicine" and rng.random() < 0.45) or (
            rng.random() < 0.06)
        self.alerts(pid, admitted, scale2)
        self.prescriptions(pid, bed_index, admitted, consultant, allergic_to)
        self.observations(pid, admitted, scale2, obs_hours)

    # ---- clinics and theatres -----------------------------------------------------------

    def clinics(
        self, days: int, total: int | None, people: list[tuple[str, str]]
    ) -> None:
        rng = self.rng
        today = self.now.astimezone(UK).date()
        workdays = [d for d in (today + timedelta(days=i) for i in range(days * 2))
                    if d.weekday() < 5][:max(1, days * 5 // 7)]
        clinics = list(CLINICS)
        per_session = 12
        if total is not None:  # the benchmark: enough clinics for ``total`` appointments
            sessions = math.ceil(total / per_session)
            clinics = [f"{CLINICS[i % len(CLINICS)]} {i // len(CLINICS) + 1}"
                       if sessions > len(CLINICS) * len(workdays) else CLINICS[i % len(CLINICS)]
                       for i in range(max(1, math.ceil(sessions / len(workdays))))]
        made = 0
        pool: list[str] = []
        for day in workdays:
            for c, clinic in enumerate(clinics):
                if total is not None and made >= total:
                    return
                clinician = people[c % len(people)]
                start = datetime(day.year, day.month, day.day, 9 if c % 2 == 0 else 13, 30,
                                 tzinfo=UK)
                for slot in range(per_session):
                    if total is not None and made >= total:
                        return
                    if pool and rng.random() < 0.1:
                        pid = rng.choice(pool)  # a patient seen in two clinics this week
                    else:
                        pid, _ = self.patient(age_range=(1, 95), with_nhs=rng.random() > 0.02)
                        pool.append(pid)
                    begin = start + timedelta(minutes=15 * slot)
                    made += 1
                    self.out.write({
                        "resourceType": "Appointment", "id": f"appt-{made:06d}",
                        "meta": self.meta,
                        "status": "booked",
                        "serviceType": [{"text": clinic}],
                        "appointmentType": {"text": rng.choice(("New", "Follow-up",
                                                                "Follow-up"))},
                        "description": rng.choice(("", "", "Review results",
                                                   "Bring your medicines")),
                        "start": iso(begin), "end": iso(begin + timedelta(minutes=15)),
                        "participant": [
                            {"actor": ref("Patient", pid), "status": "accepted"},
                            {"type": [{"coding": [coding(PARTICIPATION, "ATND", "attender")]}],
                             "actor": ref("Practitioner", *clinician), "status": "accepted"},
                            {"actor": {"display": f"Outpatients {c % 4 + 1}, Room {slot % 6 + 1}"},
                             "status": "accepted"},
                        ],
                    })

    def theatres(self, days: int, inpatients: list[str], people: list[tuple[str, str]]) -> None:
        rng = self.rng
        surgeons = [p for p in people if p[1].startswith(("Mr", "Ms", "Prof"))]
        anaesthetists = [p for p in people if p[1].startswith("Dr")]
        for t, name in enumerate(THEATRES):
            self.out.write({"resourceType": "Location", "id": f"theatre-{t + 1}",
                            "meta": self.meta, "name": name,
                            "type": [{"coding": [coding(ROLE_CODE, "OR", "Operating room")]}],
                            "partOf": ref("Location", "site")})
        today = self.now.astimezone(UK).date()
        case = 0
        for offset in range(1, days + 1):
            day = today + timedelta(days=offset)
            for t in range(len(THEATRES)):
                start = datetime(day.year, day.month, day.day, 8, 30, tzinfo=UK)
                surgeon, anaesthetist = rng.choice(surgeons), rng.choice(anaesthetists)
                for _ in range(rng.randint(3, 6)):
                    case += 1
                    if inpatients and rng.random() < 0.4:
                        pid = rng.choice(inpatients)
                    else:
                        pid, _ = self.patient(age_range=(16, 90))
                    length = timedelta(minutes=rng.choice((45, 60, 90, 120)))
                    self.out.write({
                        "resourceType": "Appointment", "id": f"case-{case:05d}",
                        "meta": self.meta, "status": "booked",
                        "serviceCategory": [{"coding": [coding(
                            "http://terminology.hl7.org/CodeSystem/service-category", "31",
                            "Specialist Surgical")]}],
                        "description": rng.choice(PROCEDURES),
                        "start": iso(start), "end": iso(start + length),
                        "participant": [
                            {"actor": ref("Patient", pid), "status": "accepted"},
                            {"type": [role(terms.SURGEON)],
                             "actor": ref("Practitioner", *surgeon), "status": "accepted"},
                            {"type": [role(terms.ANAESTHETIST)],
                             "actor": ref("Practitioner", *anaesthetist), "status": "accepted"},
                            {"actor": ref("Location", f"theatre-{t + 1}", THEATRES[t]),
                             "status": "accepted"},
                        ],
                    })
                    start += length + timedelta(minutes=15)




def write_demo_extract(
    folder: Path,
    seed: int,
    *,
    now: datetime | None = None,
    wards: int = 3,
    outpatients_days: int = 7,
    inpatients: int | None = None,
    appointments: int | None = None,
    observation_hours: float | None = None,
    theatre_days: int = 3,
) -> Path:
    """Write the demo hospital as NDJSON per type + manifest.json into ``folder``.

    ``inpatients`` (exact count, spread over as many wards as needed), ``appointments``
    (exact outpatient count) and ``observation_hours`` (fixed history) size the benchmark;
    by default the first ward has exactly :data:`FULL_WARD_BEDS` beds, every one occupied
    (the ward pack the benchmarks print), and the others 24-30 beds, about 90 % full; all
    with 24-72 h of observations.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    if now is not None:
        moment = now.astimezone(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    writer = BulkWriter(folder)
    hospital = _Hospital(seed, moment, writer)
    rng = hospital.rng
    people = hospital.practitioners()
    hospital.site()
    ward_count = max(wards, math.ceil(inpatients / 24)) if inpatients else wards
    left = inpatients
    inpatient_ids: list[str] = []
    for w in range(ward_count):
        number = 3 + w * 2 if w < 12 else 30 + w
        name = WARD_NAMES[w % len(WARD_NAMES)]
        beds = rng.randint(24, 30)
        full = w == 0 and left is None  # the benchmarks' "28-bed ward pack"
        if full:
            beds = FULL_WARD_BEDS
        wid, bed_ids = hospital.ward(number, name, beds)
        specialty = SPECIALTIES[w % len(SPECIALTIES)]
        consultants = rng.sample(people, 3)
        if left is not None:
            share = min(left, beds, math.ceil(left / (ward_count - w)))
            occupied = list(range(share))
            left -= share
        elif full:
            occupied = list(range(beds))  # NHS wards run full
        else:
            occupied = [i for i in range(beds) if i < 3 or rng.random() < 0.9]
        for i in occupied:
            first_id = hospital.patients + 1
            hospital.inpatient(wid, bed_ids[i], i, specialty, consultants[i % 3],
                               observation_hours)
            inpatient_ids.append(f"pt-{first_id:05d}")
    hospital.clinics(outpatients_days, appointments, people)
    hospital.theatres(theatre_days, inpatient_ids, people)
    writer.close(moment)
    return folder



def build_demo_cache(
    store: CacheStore,
    seed: int = DEMO_SEED,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportResult:
    """Write the demo hospital to a temporary folder, import it through the real importer
    and replace ``store``'s snapshot with it (the ``demo`` command and the app's "Load
    demo hospital" button). ``progress(done, total, message)`` reports the three steps."""
    def step(done: int, message: str) -> None:
        if progress is not None:
            progress(done, 3, message)

    step(0, "Writing the demo hospital…")
    with tempfile.TemporaryDirectory(prefix="pf-demo-") as tmp:
        folder = write_demo_extract(Path(tmp), seed=seed)
        step(1, "Importing it…")
        result = store.import_extract([folder], force=True)
    step(2, "Saving…")
    store.record_refresh(ok=True, source=f"demo seed {seed}")
    return result
