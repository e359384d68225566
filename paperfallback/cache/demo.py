"""The synthetic demo hospital, written as a FHIR Bulk Data extract (NDJSON + manifest).

It goes through the real importer, so a first start exercises the production path.
Deterministic for (seed, now). Synthetic only: NHS numbers from the reserved test range
999 000 0000 - 999 999 9999 with a valid Modulus 11 check digit; made-up names from
English, Welsh, Scottish, Irish and other UK communities (incl. ŵ ŷ â ï ł ö é ñ).
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from paperfallback.cache.importers.fhir_values import LAST_ADMINISTERED_URL
from paperfallback.cache.staleness import UK
from paperfallback.cache.store import CacheStore, ImportResult
from paperfallback.domain import terminology as terms
from paperfallback.domain.news2 import News2Observation, score
from paperfallback.domain.nhs_number import check_digit
from paperfallback.domain.terminology import NHS_NUMBER_SYSTEM, SNOMED, UCUM
from paperfallback.resources import resource
from paperfallback.settings import LOCAL_PATIENT_ID_SYSTEM

Json = dict[str, Any]
PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_NKA = (terms.NO_KNOWN_ALLERGY[0].code, terms.NO_KNOWN_ALLERGY[0].display)
_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
WARD_CODE_SYSTEM = "https://fhir.paperfallback.example/Id/ward-code"
DEMO_SEED = 2018  # the seed the demo command and the app's button use by default
FULL_WARD_BEDS = 28  # the demo's first ward: full, as NHS wards run (issues 4 and 5)
FULL_WARD_CODE = "W3"  # that ward's code (wards are numbered 3, 5, 7, ...)


def _load_tables() -> dict[str, tuple[Any, ...]]:
    """Names, places and clinical content, kept as data in resources/demo/hospital.json."""
    raw = json.loads(resource("demo", "hospital.json").read_text(encoding="utf-8"))
    return {key: tuple(value) for key, value in raw.items()}


_T = _load_tables()
GIVEN_FEMALE, GIVEN_MALE, FAMILY = _T["given_female"], _T["given_male"], _T["family"]
WARD_NAMES, SPECIALTIES = _T["ward_names"], _T["specialties"]
STREETS, TOWNS, CLINICIANS = _T["streets"], _T["towns"], _T["clinicians"]
CLINICS, THEATRES, PROCEDURES = _T["clinics"], _T["theatres"], _T["procedures"]
ALLERGIES, ALERTS = _T["allergies"], _T["alerts"]  # (substance, reaction, severity, ...)
# Drugs a demo patient with each allergy is never prescribed (issue #13 item 14: the demo
# must not teach staff to overlook a penicillin allergy on an amoxicillin chart).
ALLERGY_CONFLICTS = {allergen: tuple(words) for allergen, words in _T["allergy_conflicts"]}
REGULAR, PRN = _T["regular"], _T["prn"]  # (drug, dm+d, dose, route, times) / (..., max 24 h)
ONCE, INFUSIONS = _T["once"], _T["infusions"]  # (drug, dose, route) / (drug, volume, mL/h)



def _safe(chosen: list[Any], table: tuple[Any, ...], avoid: tuple[str, ...]) -> list[Any]:
    """``chosen`` with every drug the patient is allergic to swapped for the next safe,
    unused one of ``table`` (no random draw, so the rest of the demo stays the same)."""
    def ok(item: Any) -> bool:
        return not any(word in str(item[0]).casefold() for word in avoid)

    spare = [t for t in table if ok(t) and t not in chosen]
    return [item if ok(item) else spare.pop(0) for item in chosen if ok(item) or spare]


@dataclass
class _Writer:
    """One NDJSON file per resource type, as a FHIR Bulk Data $export writes them."""

    folder: Path
    files: dict[str, TextIO] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def write(self, resource: Json) -> None:
        rtype = resource["resourceType"]
        handle = self.files.get(rtype)
        if handle is None:
            handle = (self.folder / f"{rtype}.ndjson").open("w", encoding="utf-8")
            self.files[rtype] = handle
        handle.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
        handle.write("\n")
        self.counts[rtype] = self.counts.get(rtype, 0) + 1

    def close(self, transaction_time: datetime) -> None:
        for handle in self.files.values():
            handle.close()
        manifest = {
            "transactionTime": transaction_time.isoformat(),
            "request": "https://ehr.demo.example/fhir/Group/current-inpatients/$export",
            "requiresAccessToken": False,
            "output": [
                {"type": rtype, "url": f"https://ehr.demo.example/output/{rtype}.ndjson",
                 "count": count}
                for rtype, count in sorted(self.counts.items())
            ],
            "error": [],
        }
        (self.folder / "manifest.json").write_text(json.dumps(manifest, indent=2),
                                                   encoding="utf-8")


def _role(code: terms.Code) -> Json:
    return _concept(code.display, code.system, code.code)


def _coding(system: str, code: str, display: str) -> Json:
    return {"system": system, "code": code, "display": display}


def _concept(text: str, system: str = "", code: str = "") -> Json:
    concept: Json = {"text": text}
    if code:
        concept["coding"] = [_coding(system or SNOMED, code, text)]
    return concept


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ref(rtype: str, rid: str, display: str = "") -> Json:
    ref: Json = {"reference": f"{rtype}/{rid}"}
    if display:
        ref["display"] = display
    return ref


class _Hospital:
    """Generates one demo hospital; every choice comes from one seeded Random."""

    def __init__(self, seed: int, now: datetime, writer: _Writer) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.out = writer
        self.nhs_used: set[str] = set()
        self.patients = 0
        self.meta = {"lastUpdated": _iso(now - timedelta(minutes=2))}

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
                "relationship": [{"coding": [_coding(
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
            "type": [{"coding": [_coding(ROLE_CODE, "HOSP", "Hospital")]}],
            "physicalType": {"coding": [_coding(PHYSICAL, "si", "Site")]},
        })
        return "site"

    def ward(self, number: int, name: str, beds: int) -> tuple[str, list[str]]:
        wid = f"ward-{number}"
        self.out.write({
            "resourceType": "Location", "id": wid, "meta": self.meta,
            "identifier": [{"system": WARD_CODE_SYSTEM, "value": f"W{number}"}],
            "name": f"Ward {number} — {name}",
            "physicalType": {"coding": [_coding(PHYSICAL, "wa", "Ward")]},
            "partOf": _ref("Location", "site"),
        })
        bed_ids = []
        for n in range(1, beds + 1):
            label = f"Bed {n}" if n <= beds - 4 else f"Side room {n - beds + 4}"
            bid = f"{wid}-bed-{n}"
            self.out.write({
                "resourceType": "Location", "id": bid, "meta": self.meta, "name": label,
                "physicalType": {"coding": [_coding(PHYSICAL, "bd", "Bed")]},
                "partOf": _ref("Location", wid),
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
            "class": _coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP",
                             "inpatient encounter"),
            "subject": _ref("Patient", pid),
            "participant": [{"type": [{"coding": [_coding(PARTICIPATION, "ATND", "attender")]}],
                             "individual": _ref("Practitioner", consultant[0], consultant[1])}],
            "period": {"start": _iso(admitted)},
            "serviceType": {"text": specialty},
            "location": [{"location": _ref("Location", bed_id), "status": "active"},
                         {"location": _ref("Location", ward_id), "status": "active"}],
        })
        allergic_to = self.allergies(pid, bed_index, admitted)
        scale2 = (specialty == "Respiratory medicine" and rng.random() < 0.45) or (
            rng.random() < 0.06)
        self.alerts(pid, admitted, scale2)
        self.prescriptions(pid, bed_index, admitted, consultant, allergic_to)
        self.observations(pid, admitted, scale2, obs_hours)

    def allergies(self, pid: str, bed_index: int, recorded: datetime) -> tuple[str, ...]:
        """Write the patient's allergy record; returns the substances they are allergic to."""
        # The first three beds of every ward show all three states (recorded, NKA, none).
        state = bed_index if bed_index < 3 else self.rng.choices((0, 1, 2), (40, 45, 15))[0]
        if state == 2:
            return ()
        if state == 1:
            self.out.write({
                "resourceType": "AllergyIntolerance", "id": f"alg-{pid}-nka", "meta": self.meta,
                "clinicalStatus": {"coding": [_coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "active", "Active")]},
                "verificationStatus": {"coding": [_coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "confirmed", "Confirmed")]},
                "code": {"coding": [_coding(SNOMED, *_NKA)]},
                "patient": _ref("Patient", pid), "recordedDate": _iso(recorded),
            })
            return ()
        chosen = self.rng.sample(ALLERGIES, self.rng.choice((1, 1, 2)))
        for n, (substance, reaction, severity, criticality, category) in enumerate(chosen):
            self.out.write({
                "resourceType": "AllergyIntolerance", "id": f"alg-{pid}-{n}", "meta": self.meta,
                "clinicalStatus": {"coding": [_coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "active", "Active")]},
                "category": [category], "criticality": criticality,
                "code": {"text": substance},
                "patient": _ref("Patient", pid), "recordedDate": _iso(recorded),
                "reaction": [{"manifestation": [{"text": reaction}], "severity": severity}],
            })
        return tuple(a[0] for a in chosen)

    def alerts(self, pid: str, since: datetime, scale2: bool) -> None:
        rng = self.rng
        chosen = [a for a in ALERTS if rng.random() < 0.12]
        for n, (text, code, category) in enumerate(chosen):
            self.out.write({
                "resourceType": "Flag", "id": f"flag-{pid}-{n}", "meta": self.meta,
                "status": "active", "category": [{"text": category}],
                "code": _concept(text, SNOMED, code), "subject": _ref("Patient", pid),
                "period": {"start": _iso(since)},
            })
        if scale2:
            self.out.write({
                "resourceType": "Flag", "id": f"flag-{pid}-spo2", "meta": self.meta,
                "status": "active", "category": [{"text": "Clinical"}],
                "code": {"coding": [{"system": terms.SPO2_SCALE_SYSTEM, "code": "scale-2",
                                     "display": "NEWS2 SpO2 scale 2"}],
                         "text": "Target SpO2 88–92 %: score on NEWS2 SpO2 scale 2"},
                "subject": _ref("Patient", pid), "period": {"start": _iso(since)},
            })

    def prescriptions(
        self, pid: str, bed_index: int, since: datetime, prescriber: tuple[str, str],
        allergic_to: tuple[str, ...] = (),
    ) -> None:
        rng = self.rng
        avoid = tuple(w for a in allergic_to for w in ALLERGY_CONFLICTS.get(a, (a.casefold(),)))
        count = rng.randint(3, 12)
        kinds = ["regular"] * count
        n_prn = rng.randint(1, max(1, count // 3))
        for i in range(n_prn):
            kinds[-1 - i] = "prn"
        if bed_index % 5 == 3 or rng.random() < 0.15:
            kinds[0] = "infusion"
        if bed_index % 7 == 4 or rng.random() < 0.12:
            kinds[1] = "once"
        regular = _safe(rng.sample(REGULAR, min(len(REGULAR), kinds.count("regular"))),
                        REGULAR, avoid)
        prn = _safe(rng.sample(PRN, min(len(PRN), kinds.count("prn"))), PRN, avoid)
        for n, kind in enumerate(kinds):
            rid = f"rx-{pid}-{n}"
            base: Json = {
                "resourceType": "MedicationRequest", "id": rid, "meta": self.meta,
                "status": "active", "intent": "order", "subject": _ref("Patient", pid),
                "authoredOn": _iso(since + timedelta(minutes=30 + n)),
                "requester": _ref("Practitioner", prescriber[0], prescriber[1]),
            }
            if kind == "regular" and regular:
                drug, code, dose, route, times = regular.pop()
                base["medicationCodeableConcept"] = _concept(drug, "https://dmd.nhs.uk", code)
                base["dosageInstruction"] = [{
                    "text": f"{dose} {route.lower()} at {', '.join(times)}",
                    "timing": {"repeat": {"frequency": len(times), "period": 1,
                                          "periodUnit": "d",
                                          "timeOfDay": [f"{t}:00" for t in times]}},
                    "route": {"text": route},
                    "doseAndRate": [{"doseQuantity": _quantity(dose)}],
                }]
                last = _last_due(self.now, times)
                if last and last > since:
                    base["extension"] = [{"url": LAST_ADMINISTERED_URL,
                                          "valueDateTime": _iso(last)}]
            elif kind == "prn" and prn:
                drug, dose, route, indication, (most, unit) = prn.pop()
                base["medicationCodeableConcept"] = {"text": drug}
                base["dosageInstruction"] = [{
                    "text": f"{dose} when required for {indication.lower()}",
                    "asNeededCodeableConcept": {"text": indication},
                    "route": {"text": route},
                    "doseAndRate": [{"doseQuantity": _quantity(dose)}],
                    "maxDosePerPeriod": {"numerator": {"value": most, "unit": unit,
                                                       "system": UCUM, "code": unit},
                                         "denominator": {"value": 24, "unit": "h",
                                                         "system": UCUM, "code": "h"}},
                }]
            elif kind == "once":
                drug, dose, route = _safe([rng.choice(ONCE)], ONCE, avoid)[0]
                base["medicationCodeableConcept"] = {"text": drug}
                base["dosageInstruction"] = [{
                    "text": f"{dose} {route.lower()} once only",
                    "timing": {"repeat": {"count": 1},
                               "event": [_iso(self.now + timedelta(hours=1))]},
                    "route": {"text": route},
                    "doseAndRate": [{"doseQuantity": _quantity(dose)}],
                }]
            elif kind == "infusion":
                drug, volume, rate = _safe([rng.choice(INFUSIONS)], INFUSIONS, avoid)[0]
                base["medicationCodeableConcept"] = {"text": drug}
                base["dosageInstruction"] = [{
                    "text": f"{volume} intravenous over {round(int(volume.split()[0]) / rate)} h",
                    "route": {"text": "Intravenous"},
                    "method": {"text": "Continuous infusion"},
                    "doseAndRate": [{"doseQuantity": _quantity(volume),
                                     "rateQuantity": {"value": rate, "unit": "mL/h",
                                                      "system": UCUM, "code": "mL/h"}}],
                }]
            else:
                continue
            self.out.write(base)

    # ---- observations -------------------------------------------------------------------

    def observations(
        self, pid: str, admitted: datetime, scale2: bool, obs_hours: float | None
    ) -> None:
        """Sets every 4-6 h over 24-72 h; an acuity level gives a spread of NEWS2 scores."""
        rng = self.rng
        hours = obs_hours if obs_hours is not None else rng.uniform(24, 72)
        start = max(admitted, self.now - timedelta(hours=hours))
        acuity = rng.choices((0, 1, 2, 3), (50, 27, 15, 8))[0]
        at = self.now - timedelta(minutes=rng.randint(10, 240))
        times = []
        while at >= start:
            times.append(at)
            at -= timedelta(hours=rng.choice((4, 4, 5, 6)))
        for n, when in enumerate(reversed(times)):
            self.observation_set(f"obs-{pid}-{n}", pid, when, acuity, scale2)

    def observation_set(
        self, base: str, pid: str, when: datetime, acuity: int, scale2: bool
    ) -> None:
        rng = self.rng
        drift = rng.gauss(0, 0.6)
        level = max(0.0, acuity + drift)
        rr = round(16 + level * 3 + rng.gauss(0, 1.5))
        spo2 = round((90 if scale2 else 97) - level * 1.5 + rng.gauss(0, 1))
        spo2 = max(80, min(100, spo2))
        on_o2 = scale2 or level > 1.8
        sbp = round(128 - level * 12 + rng.gauss(0, 8))
        dbp = round(sbp * 0.6 + rng.gauss(0, 4))
        pulse = round(78 + level * 11 + rng.gauss(0, 6))
        temp = round(36.8 + level * 0.35 + rng.gauss(0, 0.3), 1)
        acvpu = "A" if level < 2.5 or rng.random() < 0.6 else rng.choice("CV")
        news2 = score(News2Observation(rr, spo2, "O2" if on_o2 else "A", sbp, pulse, acvpu, temp,
                                       spo2_scale=2 if scale2 else 1))
        subject = _ref("Patient", pid)
        eff = _iso(when)
        vital = [{"coding": [_coding("http://terminology.hl7.org/CodeSystem/observation-category",
                                     "vital-signs", "Vital Signs")]}]

        def obs(suffix: str, code: Json, **value: Any) -> None:
            self.out.write({"resourceType": "Observation", "id": f"{base}-{suffix}",
                            "status": "final", "category": vital, "code": code,
                            "subject": subject, "effectiveDateTime": eff, **value})

        def coded(*codes: terms.Code) -> Json:
            return {"coding": [_coding(c.system, c.code, c.display) for c in codes]}

        def qty_of(v: float, parameter: str) -> Json:
            return {"value": v, **terms.PARAMETER_UNITS[parameter].quantity()}

        # An EPR codes vitals its own way: SpO2 by pulse oximetry (codes the importer
        # reads but the export never writes), the rest as the UK Core example.
        vital_codes = terms.VITAL_CODES
        obs("rr", coded(*vital_codes["resp_rate"]), valueQuantity=qty_of(rr, "resp_rate"))
        obs("spo2", coded(terms.READ_ALSO["spo2"][-1], terms.READ_ALSO["spo2"][0]),
            valueQuantity=qty_of(spo2, "spo2"))
        if on_o2:
            obs("o2", coded(terms.AIR_OR_OXYGEN["O2"]),
                valueCodeableConcept={"text": rng.choice(("Nasal cannula", "Venturi mask"))})
            obs("flow", coded(*vital_codes["o2_flow"]),
                valueQuantity=qty_of(rng.choice((1, 2, 2, 3, 4)), "o2_flow"))
        else:
            obs("air", coded(terms.AIR_OR_OXYGEN["A"]))
        obs("bp", coded(*vital_codes["bp"]),
            component=[
                {"code": coded(vital_codes["sbp"][-1]), "valueQuantity": qty_of(sbp, "sbp")},
                {"code": coded(vital_codes["dbp"][-1]), "valueQuantity": qty_of(dbp, "dbp")},
            ])
        obs("pulse", coded(*vital_codes["pulse"][::2]), valueQuantity=qty_of(pulse, "pulse"))
        obs("temp", coded(*vital_codes["temp"]), valueQuantity=qty_of(temp, "temp"))
        obs("acvpu", coded(*vital_codes["acvpu"]),
            valueCodeableConcept=coded(terms.ACVPU_VALUES[acvpu]))
        obs("news2", coded(terms.NEWS2_TOTAL),
            valueQuantity=qty_of(news2.total, "news2_total"),
            component=[{"code": coded(terms.SPO2_SCALE_SCORE[2 if scale2 else 1]),
                        "valueQuantity": qty_of(news2.components["spo2"], "news2_total")}])

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
                        "start": _iso(begin), "end": _iso(begin + timedelta(minutes=15)),
                        "participant": [
                            {"actor": _ref("Patient", pid), "status": "accepted"},
                            {"type": [{"coding": [_coding(PARTICIPATION, "ATND", "attender")]}],
                             "actor": _ref("Practitioner", *clinician), "status": "accepted"},
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
                            "type": [{"coding": [_coding(ROLE_CODE, "OR", "Operating room")]}],
                            "partOf": _ref("Location", "site")})
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
                        "serviceCategory": [{"coding": [_coding(
                            "http://terminology.hl7.org/CodeSystem/service-category", "31",
                            "Specialist Surgical")]}],
                        "description": rng.choice(PROCEDURES),
                        "start": _iso(start), "end": _iso(start + length),
                        "participant": [
                            {"actor": _ref("Patient", pid), "status": "accepted"},
                            {"type": [_role(terms.SURGEON)],
                             "actor": _ref("Practitioner", *surgeon), "status": "accepted"},
                            {"type": [_role(terms.ANAESTHETIST)],
                             "actor": _ref("Practitioner", *anaesthetist), "status": "accepted"},
                            {"actor": _ref("Location", f"theatre-{t + 1}", THEATRES[t]),
                             "status": "accepted"},
                        ],
                    })
                    start += length + timedelta(minutes=15)


def _quantity(text: str) -> Json:
    value, unit = text.split(" ", 1)
    number = float(value)
    return {"value": int(number) if number.is_integer() else number, "unit": unit,
            "system": UCUM, "code": _UCUM_CODES.get(unit, unit)}


# The demo writes the safe word as Quantity.unit (what charts print) and the UCUM code
# as Quantity.code (what FHIR needs); never the bare code as the unit text.
_UCUM_CODES = {"microgram": "ug", "mL": "mL", "units": "[iU]", "nanogram": "ng", "litre": "L"}


def _last_due(now: datetime, times: tuple[str, ...]) -> datetime | None:
    """The latest scheduled dose time before ``now`` (UK local), as if given on time."""
    local = now.astimezone(UK)
    candidates = []
    for day in (local.date(), local.date() - timedelta(days=1)):
        for t in times:
            hour, minute = map(int, t.split(":"))
            moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UK)
            if moment <= local:
                candidates.append(moment)
    return max(candidates) if candidates else None


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
    writer = _Writer(folder)
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
    from paperfallback.cache.importers import read_extract

    def step(done: int, message: str) -> None:
        if progress is not None:
            progress(done, 3, message)

    step(0, "Writing the demo hospital…")
    with tempfile.TemporaryDirectory(prefix="pf-demo-") as tmp:
        folder = write_demo_extract(Path(tmp), seed=seed)
        step(1, "Importing it…")
        snapshot = read_extract([folder])
    step(2, "Saving…")
    result = store.replace_snapshot(snapshot, force=True)
    store.record_refresh(ok=True, source=f"demo seed {seed}")
    return result
