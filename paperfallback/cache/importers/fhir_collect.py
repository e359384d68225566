"""Collects FHIR resources as they are read, then resolves references into a snapshot.

Which broken references matter (docs/formats.md, "References"):
- A current stay, an appointment or a theatre case whose patient is not in the extract
  fails the import: a person would be silently missing from a ward, clinic or theatre list.
- A current stay whose ward Location is missing (and has no display) fails, for the same
  reason.
- An allergy, alert, prescription or observation about a patient who is not in the
  extract cannot reach anybody's form; it is skipped and counted (Bulk Data exports are not
  transactional across resource types, and such strays must not stop every refresh).
- Missing Practitioners, Organizations and Medications fall back to the reference's
  display text; the fact itself is kept.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from paperfallback.cache.importers.as_of import AsOfEvidence, window_start
from paperfallback.cache.importers.fhir_appointments import (
    LIVE_STATUS,
    NEVER_STATUS,
    PendingAppointment,
    read_appointment,
    theatre_of,
    to_appointment,
    to_theatre_cases,
)
from paperfallback.cache.importers.fhir_clinical import (
    ACTIVE_ORDER_INTENTS,
    PendingFlag,
    PendingPrescription,
    administration_time,
    map_allergy,
    map_flag,
    map_medication_request,
)
from paperfallback.cache.importers.fhir_files import Where
from paperfallback.cache.importers.fhir_observations import ObservationReader
from paperfallback.cache.importers.fhir_people import (
    PendingStay,
    Place,
    gp_references,
    is_current,
    map_location,
    map_patient,
    meta_time,
    practitioner_name,
    read_encounter,
    resolve_stay,
)
from paperfallback.cache.importers.fhir_types import check_identity, json_kind
from paperfallback.cache.importers.fhir_values import (
    DMD_SYSTEMS,
    Json,
    first_code,
    text_of,
)
from paperfallback.cache.importers.parts import Parts
from paperfallback.cache.importers.policy import ImportPolicy
from paperfallback.domain.errors import InputError
from paperfallback.domain.plausible import CHECK_DOSE_NOTE, reading_problem
from paperfallback.domain.records import Allergy, Observation, Patient, Stay, Ward

USED_TYPES = frozenset({
    "Patient", "Encounter", "Location", "Practitioner", "PractitionerRole", "Organization",
    "HealthcareService", "Medication", "AllergyIntolerance", "Flag", "MedicationRequest",
    "MedicationAdministration", "Observation", "Appointment",
})
_NAMED_TYPES = ("Organization", "HealthcareService")


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _admitted(stay: Stay) -> datetime:
    return stay.admitted_at or _EARLIEST


def _comparable(res: Json) -> Json:
    """A resource as read from its file, without what the Bundle reader adds to it."""
    return {k: v for k, v in res.items() if k not in ("_fullUrl", "id")}


def _patient_ref(ref: str) -> str:
    """'Patient/x' -> 'x' (other forms are resolved through Bundle fullUrl aliases later)."""
    return ref[8:] if ref.startswith("Patient/") else ref


class FhirCollector:
    def __init__(
        self, hospital_systems: tuple[str, ...], policy: ImportPolicy, evidence: AsOfEvidence
    ) -> None:
        self.hospital_systems = hospital_systems
        self.policy = policy
        self.evidence = evidence
        self.skipped: Counter[str] = Counter()
        self.aliases: dict[str, str] = {}
        self.patients: dict[str, tuple[Patient, Where, list[str]]] = {}
        self.places: dict[str, Place] = {}
        self.names: dict[str, str] = {}
        self.medications: dict[str, tuple[str, str]] = {}
        self.encounters: dict[str, PendingStay] = {}
        self.allergies: dict[str, tuple[Allergy, str, bool]] = {}
        self.flags: dict[str, PendingFlag] = {}
        self.prescriptions: dict[str, PendingPrescription] = {}
        self.administered: dict[str, datetime] = {}
        self.appointments: dict[str, PendingAppointment] = {}
        self.observations = ObservationReader()
        self._observations: dict[str, Observation] = {}
        self._seen: dict[str, Where] = {}
        self._handlers: dict[str, Callable[[Json, Where, str], None]] = {
            rtype: getattr(self, f"_add_{rtype.lower()}")
            for rtype in USED_TYPES if hasattr(self, f"_add_{rtype.lower()}")
        }

    # ---- reading ------------------------------------------------------------------------

    def add(self, res: Json, where: Where) -> None:
        rtype = str(res["resourceType"])
        if rtype not in USED_TYPES:
            self.skipped[f"{rtype} resources (type not used)"] += 1
            return
        rid = res.get("id")
        if rid is not None and not isinstance(rid, str):
            raise InputError(
                f"{rtype}, field id: expected a JSON string, got {json_kind(rid)}",
                where=str(where),
            )
        if not rid:
            raise InputError(f"{rtype} has no id", where=str(where))
        key = f"{rtype}/{rid}"
        if not self._first_copy(rtype, rid, res, where):
            return
        check_identity(res, where)
        if "_fullUrl" in res:
            self.aliases[str(res["_fullUrl"])] = key
        updated = meta_time(res, where)
        if updated is not None:
            self.evidence.saw_last_updated(updated)
        handler = self._handlers.get(rtype)
        if handler is not None:
            handler(res, where, key)
        else:
            self.names[key] = text_of({"text": res.get("name")}) or str(res.get("name") or "")

    def _first_copy(self, rtype: str, rid: str, res: Json, where: Where) -> bool:
        """True for the first copy of a resource; False for a word-for-word repeat (per-patient
        Bundles often repeat a shared Practitioner or Location). Two *different* resources with
        one type and id fail the import naming both places (issue 13, item 1): whichever won,
        one patient's identity or prescription would silently replace another's, and no rule
        (not even a later ``meta.lastUpdated``, which a hostile or broken extract sets freely)
        can say which is true."""
        key = f"{rtype}/{rid}"
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = where
            return True
        if _comparable(first.reread()) == _comparable(res):
            return False
        raise InputError(
            f"two different {rtype} resources with id {rid!r}: this one and the one at "
            f"{first}; one would silently replace the other, so the extract is refused (fix "
            "the duplicate id in the EPR export)",
            where=str(where),
        )

    def _add_patient(self, res: Json, where: Where, key: str) -> None:
        patient = map_patient(res, where, self.hospital_systems)
        self.patients[patient.id] = (patient, where, gp_references(res))

    def _add_location(self, res: Json, where: Where, key: str) -> None:
        self.places[key] = map_location(res, self.aliases)

    def _add_practitioner(self, res: Json, where: Where, key: str) -> None:
        self.names[key] = practitioner_name(res)

    def _add_practitionerrole(self, res: Json, where: Where, key: str) -> None:
        practitioner = res.get("practitioner") or {}
        self.names[key] = str(practitioner.get("display") or "")

    def _add_medication(self, res: Json, where: Where, key: str) -> None:
        self.medications[key] = (text_of(res.get("code")), first_code(res.get("code"),
                                                                      DMD_SYSTEMS))

    def _add_encounter(self, res: Json, where: Where, key: str) -> None:
        pending = read_encounter(res, where)
        if pending is None:
            self.skipped["Encounter not an inpatient stay"] += 1
        else:
            self.encounters[key] = pending

    def _add_allergyintolerance(self, res: Json, where: Where, key: str) -> None:
        self.allergies[key] = map_allergy(res, where)

    def _add_flag(self, res: Json, where: Where, key: str) -> None:
        self.flags[key] = map_flag(res, where)

    def _add_medicationrequest(self, res: Json, where: Where, key: str) -> None:
        self.prescriptions[key] = map_medication_request(res, where)

    def _add_medicationadministration(self, res: Json, where: Where, key: str) -> None:
        request, when = administration_time(res, where)
        if request and when and (request not in self.administered
                                 or when > self.administered[request]):
            self.administered[request] = when

    def _add_observation(self, res: Json, where: Where, key: str) -> None:
        for obs in self.observations.read(res, where):
            problem = reading_problem(obs.value)
            if problem:  # never printed on a chart; IT sees where it came from
                self.skipped[f"Observation {obs.id!r} at {where} not printed: {problem}"] += 1
            else:
                self._observations[obs.id] = obs

    def _add_appointment(self, res: Json, where: Where, key: str) -> None:
        self.appointments[key] = read_appointment(res, where)

    # ---- resolving ----------------------------------------------------------------------

    def _patient_id(self, ref: str) -> str | None:
        ref = self.aliases.get(ref, ref)
        pid = _patient_ref(ref)
        return pid if pid in self.patients else None

    def _name(self, ref: str) -> str:
        return self.names.get(self.aliases.get(ref, ref), "")

    def finish(self, as_of: datetime) -> Parts:
        parts = Parts(skipped=self.skipped)
        parts.skipped.update(self.observations.skipped)
        self._resolve_patients(parts)
        self._resolve_stays(parts)
        self._resolve_facts(parts, as_of)
        self._resolve_observations(parts, as_of)
        self._resolve_appointments(parts)
        return parts

    def _resolve_patients(self, parts: Parts) -> None:
        seen: dict[str, str] = {}
        for patient, where, gps in self.patients.values():
            if patient.nhs_number:
                other = seen.setdefault(patient.nhs_number, patient.id)
                if other != patient.id:
                    raise InputError(
                        f"Patient {patient.id!r} has the same NHS number as Patient {other!r}; "
                        "a duplicate registration must be merged in the EPR before import",
                        where=str(where),
                    )
            gp = ", ".join(n for n in (self._name(g) for g in gps) if n)
            if gp and gp != patient.gp_practice:
                patient = dataclasses.replace(patient, gp_practice=gp)
            parts.patients.append(patient)

    def _resolve_stays(self, parts: Parts) -> None:
        chosen: dict[str, tuple[Stay, Ward]] = {}
        for pending in self.encounters.values():
            if not is_current(pending, self.policy.current_only):
                parts.skipped[f"Encounter {pending.status or 'without status'} (not current)"] += 1
                continue
            pid = self._patient_id(pending.patient_ref)
            if pid is None:
                raise InputError(
                    f"Encounter {pending.id!r}, field subject: {pending.patient_ref or 'none'} "
                    "is not in the extract, so a patient would be missing from a ward list",
                    where=str(pending.where),
                )
            stay, ward = resolve_stay(pending, pid, self.places, self.names)
            previous = chosen.get(pid)
            if previous is not None:
                parts.skipped["Encounter older than the patient's current stay"] += 1
                if _admitted(previous[0]) >= _admitted(stay):
                    continue
            chosen[pid] = (stay, ward)
        wards: dict[str, Ward] = {}
        for stay, ward in chosen.values():
            parts.stays.append(stay)
            wards.setdefault(ward.code, ward)
        for place in self.places.values():
            if place.is_ward:
                wards.setdefault(place.code, place.ward())
        parts.wards.extend(sorted(wards.values(), key=lambda w: w.code))

    def _resolve_facts(self, parts: Parts, as_of: datetime) -> None:
        current = self.policy.current_only
        for allergy, status, usable in self.allergies.values():
            pid = self._patient_id(allergy.patient_id)
            if not usable:
                parts.skipped["AllergyIntolerance refuted or entered in error"] += 1
            elif current and status != "active":
                parts.skipped[f"AllergyIntolerance {status}"] += 1
            elif pid is None:
                parts.skipped["AllergyIntolerance about a patient not in the extract"] += 1
            else:
                parts.allergies.append(dataclasses.replace(allergy, patient_id=pid))
        flag_scales: dict[str, int] = {}
        for flag in self.flags.values():
            pid = self._patient_id(flag.alert.patient_id)
            if flag.status == "entered-in-error" or (current and flag.status != "active"):
                parts.skipped[f"Flag {flag.status or 'without status'}"] += 1
            elif current and flag.ends is not None and flag.ends <= as_of:
                parts.skipped["Flag whose period has ended"] += 1
            elif pid is None:
                parts.skipped["Flag about a patient not in the extract"] += 1
            else:
                parts.alerts.append(dataclasses.replace(flag.alert, patient_id=pid))
                if flag.spo2_scale:
                    flag_scales[pid] = flag.spo2_scale
        used_requests: set[str] = set()
        for key, pending in self.prescriptions.items():
            rx = pending.prescription
            pid = self._patient_id(rx.patient_id)
            if pending.status == "entered-in-error" or (current and (
                pending.status != "active" or pending.intent not in ACTIVE_ORDER_INTENTS
            )):
                intent = (
                    "" if pending.intent in ACTIVE_ORDER_INTENTS else f" (intent {pending.intent})"
                )
                status = pending.status or "without status"
                parts.skipped[f"MedicationRequest {status}{intent}"] += 1
                continue
            if pid is None:
                parts.skipped["MedicationRequest about a patient not in the extract"] += 1
                continue
            used_requests.add(key)
            for problem in pending.problems:
                parts.skipped[
                    f"{CHECK_DOSE_NOTE}: MedicationRequest {rx.id!r} at {pending.where}, "
                    f"{problem}"] += 1
            drug, code = rx.drug, rx.drug_code
            if pending.medication_ref:
                med_text, med_code = self.medications.get(
                    self.aliases.get(pending.medication_ref, pending.medication_ref), ("", "")
                )
                drug, code = drug or med_text, code or med_code
            given = self.administered.get(key)
            last = max((t for t in (rx.last_administered, given) if t), default=None)
            parts.prescriptions.append(dataclasses.replace(
                rx, patient_id=pid, drug=drug or "medicine not stated", drug_code=code,
                prescriber=self._name(pending.requester_ref) or rx.prescriber,
                last_administered=last,
            ))
        orphans = sum(1 for request in self.administered if request not in used_requests)
        if orphans:
            parts.skipped["MedicationAdministration for a prescription not imported"] += orphans
        scales = {
            pid: scale for ref, (_, scale) in self.observations.scales.items()
            if (pid := self._patient_id(ref)) is not None
        }
        scales.update(flag_scales)  # an explicit flag outranks the last NEWS2 score
        parts.spo2_scale.update(scales)

    def _resolve_observations(self, parts: Parts, as_of: datetime) -> None:
        oldest = window_start(as_of, self.policy.observation_hours)
        hours = self.policy.observation_hours
        for obs in self._observations.values():
            pid = obs.patient_id if obs.patient_id in self.patients else self._patient_id(
                obs.patient_id)
            if oldest is not None and obs.effective < oldest:
                parts.skipped[f"Observation older than {hours:g} h before data-as-of"] += 1
            elif pid is None:
                parts.skipped["Observation about a patient not in the extract"] += 1
            elif pid != obs.patient_id:
                parts.observations.append(dataclasses.replace(obs, patient_id=pid))
            else:
                parts.observations.append(obs)
        parts.observations.sort(key=lambda o: (o.patient_id, o.effective))

    def _resolve_appointments(self, parts: Parts) -> None:
        theatre_cases = []
        for pending in self.appointments.values():
            if pending.status in NEVER_STATUS or (
                self.policy.current_only and pending.status not in LIVE_STATUS
            ):
                parts.skipped[f"Appointment {pending.status or 'without status'}"] += 1
                continue
            if pending.start is None:
                parts.skipped["Appointment without a start time"] += 1
                continue
            ref = pending.patient_ref or next(
                (p.key for p in pending.people
                 if self.aliases.get(p.key, "").startswith("Patient/")), "")
            pid = self._patient_id(ref)
            if pid is None:
                raise InputError(
                    f"Appointment {pending.id!r}, field participant (patient): "
                    f"{ref or 'none'} is not in the extract, so a patient "
                    "would be missing from a clinic or theatre list",
                    where=str(pending.where),
                )
            theatre = theatre_of(pending, self.places)
            if theatre is not None:
                theatre_cases.append((pending, pid, theatre))
            else:
                parts.appointments.append(to_appointment(pending, pid, self.names, self.places))
        parts.theatre_cases.extend(to_theatre_cases(theatre_cases, self.names))
