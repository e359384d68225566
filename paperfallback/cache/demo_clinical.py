"""The demo hospital's clinical records of one inpatient: allergies, alerts, medicines
and observations.

Split from :mod:`paperfallback.cache.demo` (modules stay under 600 lines) as a mixin of
its generator, so every draw still comes from the hospital's one seeded Random in the
same order and a given (seed, now) writes the same hospital as before. Prescribing never
gives a patient a drug they are allergic to (issue #13 item 14).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from paperfallback.cache.demo_fhir import (
    BulkWriter,
    Json,
    coding,
    concept,
    iso,
    quantity,
    ref,
)
from paperfallback.cache.demo_tables import (
    ALERTS,
    ALLERGIES,
    ALLERGY_CONFLICTS,
    INFUSIONS,
    ONCE,
    PRN,
    REGULAR,
)
from paperfallback.cache.importers.fhir_values import LAST_ADMINISTERED_URL
from paperfallback.cache.staleness import UK
from paperfallback.domain import terminology as terms
from paperfallback.domain.news2 import News2Observation, score
from paperfallback.domain.terminology import SNOMED, UCUM

_NKA = (terms.NO_KNOWN_ALLERGY[0].code, terms.NO_KNOWN_ALLERGY[0].display)


def _safe(chosen: list[Any], table: tuple[Any, ...], avoid: tuple[str, ...]) -> list[Any]:
    """``chosen`` with every drug the patient is allergic to swapped for the next safe,
    unused one of ``table`` (no random draw, so the rest of the demo stays the same)."""
    def ok(item: Any) -> bool:
        return not any(word in str(item[0]).casefold() for word in avoid)

    spare = [t for t in table if ok(t) and t not in chosen]
    return [item if ok(item) else spare.pop(0) for item in chosen if ok(item) or spare]


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


class ClinicalRecords:
    """What the demo records about an inpatient; mixed into the hospital generator, whose
    ``rng``, ``now``, ``out`` and ``meta`` it uses."""

    rng: random.Random
    now: datetime
    out: BulkWriter
    meta: dict[str, str]

    def allergies(self, pid: str, bed_index: int, recorded: datetime) -> tuple[str, ...]:
        """Write the patient's allergy record; returns the substances they are allergic to."""
        # The first three beds of every ward show all three states (recorded, NKA, none).
        state = bed_index if bed_index < 3 else self.rng.choices((0, 1, 2), (40, 45, 15))[0]
        if state == 2:
            return ()
        if state == 1:
            self.out.write({
                "resourceType": "AllergyIntolerance", "id": f"alg-{pid}-nka", "meta": self.meta,
                "clinicalStatus": {"coding": [coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "active", "Active")]},
                "verificationStatus": {"coding": [coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "confirmed", "Confirmed")]},
                "code": {"coding": [coding(SNOMED, *_NKA)]},
                "patient": ref("Patient", pid), "recordedDate": iso(recorded),
            })
            return ()
        chosen = self.rng.sample(ALLERGIES, self.rng.choice((1, 1, 2)))
        for n, (substance, reaction, severity, criticality, category) in enumerate(chosen):
            self.out.write({
                "resourceType": "AllergyIntolerance", "id": f"alg-{pid}-{n}", "meta": self.meta,
                "clinicalStatus": {"coding": [coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "active", "Active")]},
                "category": [category], "criticality": criticality,
                "code": {"text": substance},
                "patient": ref("Patient", pid), "recordedDate": iso(recorded),
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
                "code": concept(text, SNOMED, code), "subject": ref("Patient", pid),
                "period": {"start": iso(since)},
            })
        if scale2:
            self.out.write({
                "resourceType": "Flag", "id": f"flag-{pid}-spo2", "meta": self.meta,
                "status": "active", "category": [{"text": "Clinical"}],
                "code": {"coding": [{"system": terms.SPO2_SCALE_SYSTEM, "code": "scale-2",
                                     "display": "NEWS2 SpO2 scale 2"}],
                         "text": "Target SpO2 88–92 %: score on NEWS2 SpO2 scale 2"},
                "subject": ref("Patient", pid), "period": {"start": iso(since)},
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
                "status": "active", "intent": "order", "subject": ref("Patient", pid),
                "authoredOn": iso(since + timedelta(minutes=30 + n)),
                "requester": ref("Practitioner", prescriber[0], prescriber[1]),
            }
            if kind == "regular" and regular:
                drug, code, dose, route, times = regular.pop()
                base["medicationCodeableConcept"] = concept(drug, "https://dmd.nhs.uk", code)
                base["dosageInstruction"] = [{
                    "text": f"{dose} {route.lower()} at {', '.join(times)}",
                    "timing": {"repeat": {"frequency": len(times), "period": 1,
                                          "periodUnit": "d",
                                          "timeOfDay": [f"{t}:00" for t in times]}},
                    "route": {"text": route},
                    "doseAndRate": [{"doseQuantity": quantity(dose)}],
                }]
                last = _last_due(self.now, times)
                if last and last > since:
                    base["extension"] = [{"url": LAST_ADMINISTERED_URL,
                                          "valueDateTime": iso(last)}]
            elif kind == "prn" and prn:
                drug, dose, route, indication, (most, unit) = prn.pop()
                base["medicationCodeableConcept"] = {"text": drug}
                base["dosageInstruction"] = [{
                    "text": f"{dose} when required for {indication.lower()}",
                    "asNeededCodeableConcept": {"text": indication},
                    "route": {"text": route},
                    "doseAndRate": [{"doseQuantity": quantity(dose)}],
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
                               "event": [iso(self.now + timedelta(hours=1))]},
                    "route": {"text": route},
                    "doseAndRate": [{"doseQuantity": quantity(dose)}],
                }]
            elif kind == "infusion":
                drug, volume, rate = _safe([rng.choice(INFUSIONS)], INFUSIONS, avoid)[0]
                base["medicationCodeableConcept"] = {"text": drug}
                base["dosageInstruction"] = [{
                    "text": f"{volume} intravenous over {round(int(volume.split()[0]) / rate)} h",
                    "route": {"text": "Intravenous"},
                    "method": {"text": "Continuous infusion"},
                    "doseAndRate": [{"doseQuantity": quantity(volume),
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
        subject = ref("Patient", pid)
        eff = iso(when)
        vital = [{"coding": [coding("http://terminology.hl7.org/CodeSystem/observation-category",
                                    "vital-signs", "Vital Signs")]}]

        def obs(suffix: str, code: Json, **value: Any) -> None:
            self.out.write({"resourceType": "Observation", "id": f"{base}-{suffix}",
                            "status": "final", "category": vital, "code": code,
                            "subject": subject, "effectiveDateTime": eff, **value})

        def coded(*codes: terms.Code) -> Json:
            return {"coding": [coding(c.system, c.code, c.display) for c in codes]}

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
