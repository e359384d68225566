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

Memory (issue 15): resources are mapped in batches as they are read and the mapped
records kept in SQLite (:mod:`paperfallback.cache.importers.staging`), as is where each
resource id was first seen; resolving reads them back a batch at a time and hands the
results to ``out`` (lists in memory for ``read_extract``, the cache's tables for ``cache
import``). What stays in memory is what the hospital's structure holds (wards, beds,
clinicians, medicines), the current stays, and Bundle fullUrl aliases.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from paperfallback.cache.importers.as_of import AsOfEvidence, window_start
from paperfallback.cache.importers.fhir_appointments import (
    LIVE_STATUS,
    NEVER_STATUS,
    read_appointment,
    theatre_of,
    to_appointment,
    to_theatre_cases,
)
from paperfallback.cache.importers.fhir_clinical import (
    ACTIVE_ORDER_INTENTS,
    administration_time,
    map_allergy,
    map_flag,
    map_medication_request,
)
from paperfallback.cache.importers.fhir_files import Where, forget_staged_bundles
from paperfallback.cache.importers.fhir_observations import ObservationReader
from paperfallback.cache.importers.fhir_people import (
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
from paperfallback.cache.importers.staging import Staging
from paperfallback.domain.errors import InputError
from paperfallback.domain.plausible import CHECK_DOSE_NOTE, reading_problem
from paperfallback.domain.records import (
    Alert,
    Allergy,
    Appointment,
    Observation,
    ObservationKind,
    Patient,
    Prescription,
    Stay,
    TheatreCase,
    Ward,
)

USED_TYPES = frozenset({
    "Patient", "Encounter", "Location", "Practitioner", "PractitionerRole", "Organization",
    "HealthcareService", "Medication", "AllergyIntolerance", "Flag", "MedicationRequest",
    "MedicationAdministration", "Observation", "Appointment",
})
_NAMED_TYPES = ("Organization", "HealthcareService")


_EARLIEST = datetime.min.replace(tzinfo=UTC)
# Resources parsed but not yet mapped, whose ids are looked up together (first copies).
READ_BATCH = 200
T_contra = TypeVar("T_contra", contravariant=True)


class Collects(Protocol[T_contra]):
    """A list, or a writer of table rows in batches (cache.snapshot_writer)."""

    def append(self, item: T_contra, /) -> None: ...
    def extend(self, items: Iterable[T_contra], /) -> None: ...
    def __len__(self) -> int: ...


class Output(Protocol):
    """Where resolved records go: :class:`Parts` (lists) or the cache's tables."""

    @property
    def patients(self) -> Collects[Patient]: ...
    @property
    def wards(self) -> Collects[Ward]: ...
    @property
    def stays(self) -> Collects[Stay]: ...
    @property
    def allergies(self) -> Collects[Allergy]: ...
    @property
    def alerts(self) -> Collects[Alert]: ...
    @property
    def prescriptions(self) -> Collects[Prescription]: ...
    @property
    def observations(self) -> Collects[Observation]: ...
    @property
    def appointments(self) -> Collects[Appointment]: ...
    @property
    def theatre_cases(self) -> Collects[TheatreCase]: ...
    @property
    def spo2_scale(self) -> dict[str, int]: ...
    @property
    def skipped(self) -> Counter[str]: ...


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
        self, hospital_systems: tuple[str, ...], policy: ImportPolicy, evidence: AsOfEvidence,
        staging: Staging | None = None,
    ) -> None:
        self.hospital_systems = hospital_systems
        self.policy = policy
        self.evidence = evidence
        self.staging = staging or Staging()
        self.skipped: Counter[str] = Counter()
        self.aliases: dict[str, str] = {}  # Bundle fullUrl -> "Type/id" (Bundles only)
        self.places: dict[str, Place] = {}
        self.names: dict[str, str] = {}
        self.medications: dict[str, tuple[str, str]] = {}
        self.observations = ObservationReader()
        self._batch: list[tuple[Json, Where, str, str]] = []  # (resource, where, type, key)
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
        self._batch.append((res, where, rtype, f"{rtype}/{rid}"))
        if len(self._batch) >= READ_BATCH:
            self._map_batch()

    def _map_batch(self) -> None:
        """Map one batch of resources, in the order they were read: the first copy of each
        id is mapped, a word-for-word repeat dropped, a different one refused."""
        batch, self._batch = self._batch, []
        earlier = self.staging.first_places(key for _, _, _, key in batch)
        firsts: list[tuple[str, Where]] = []
        for res, where, rtype, key in batch:
            first = earlier.get(key)
            if first is None:
                earlier[key] = where
                firsts.append((key, where))
            elif self._repeat(rtype, key, res, where, first):
                continue
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
        self.staging.seen(firsts)

    def _repeat(self, rtype: str, key: str, res: Json, where: Where, first: Where) -> bool:
        """True for a word-for-word repeat of a resource (per-patient Bundles often repeat a
        shared Practitioner or Location). Two *different* resources with one type and id fail
        the import naming both places (issue 13, item 1): whichever won, one patient's
        identity or prescription would silently replace another's, and no rule (not even a
        later ``meta.lastUpdated``, which a hostile or broken extract sets freely) can say
        which is true. The first copy is read again from its file, not kept in memory."""
        if _comparable(first.reread()) == _comparable(res):
            return True
        rid = key.split("/", 1)[1]
        raise InputError(
            f"two different {rtype} resources with id {rid!r}: this one and the one at "
            f"{first}; one would silently replace the other, so the extract is refused (fix "
            "the duplicate id in the EPR export)",
            where=str(where),
        )

    def _add_patient(self, res: Json, where: Where, key: str) -> None:
        patient = map_patient(res, where, self.hospital_systems)
        self.staging.put("patient", patient.id, (patient, where, gp_references(res)))

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
            self.staging.put("encounter", key, pending)

    def _add_allergyintolerance(self, res: Json, where: Where, key: str) -> None:
        self.staging.put("allergy", key, map_allergy(res, where))

    def _add_flag(self, res: Json, where: Where, key: str) -> None:
        self.staging.put("flag", key, map_flag(res, where))

    def _add_medicationrequest(self, res: Json, where: Where, key: str) -> None:
        self.staging.put("prescription", key, map_medication_request(res, where))

    def _add_medicationadministration(self, res: Json, where: Where, key: str) -> None:
        request, when = administration_time(res, where)
        if request and when:  # the latest administration per request is kept
            self.staging.put_max("administered", request, when, when.timestamp())

    def _add_observation(self, res: Json, where: Where, key: str) -> None:
        for obs in self.observations.read(res, where):
            problem = reading_problem(obs.value)
            if problem:  # never printed on a chart; IT sees where it came from
                self.skipped[f"Observation {obs.id!r} at {where} not printed: {problem}"] += 1
            else:
                self.staging.put_row("observation", obs.id, (  # columns: nothing pickled
                    obs.id, obs.patient_id, obs.kind.value, obs.effective.isoformat(),
                    obs.value, obs.text, obs.unit,
                    obs.source_time.isoformat() if obs.source_time is not None else None))

    def _add_appointment(self, res: Json, where: Where, key: str) -> None:
        self.staging.put("appointment", key, read_appointment(res, where))

    # ---- resolving ----------------------------------------------------------------------

    def _patient_ids(self, refs: Iterable[str], *, bare: bool = False,
                     ) -> dict[str, str | None]:
        """The patient id each reference names, or None when that patient is not in the
        extract (one query per batch, not per reference). ``bare``: a reference may be the
        patient's id itself (observations keep it so)."""
        wanted = {ref: _patient_ref(self.aliases.get(ref, ref)) for ref in refs}
        known = self.staging.present("patient", [*wanted.values(), *wanted])
        return {ref: ref if bare and ref in known else pid if pid in known else None
                for ref, pid in wanted.items()}

    def _name(self, ref: str) -> str:
        return self.names.get(self.aliases.get(ref, ref), "")

    def read_done(self) -> None:
        """Map the last batch (before the data's time is decided: it may come from
        ``meta.lastUpdated``)."""
        if self._batch:
            self._map_batch()
        self.staging.flush()

    def finish(self, as_of: datetime, out: Output | None = None) -> Output:
        """Resolve every reference and hand the records to ``out`` (default: lists)."""
        self.read_done()
        parts: Output = out if out is not None else Parts()
        parts.skipped.update(self.skipped)
        parts.skipped.update(self.observations.skipped)
        try:
            self._resolve_patients(parts)
            self._resolve_stays(parts)
            self._resolve_facts(parts, as_of)
            self._resolve_observations(parts, as_of)
            self._resolve_appointments(parts)
        finally:
            forget_staged_bundles()
        if isinstance(parts, Parts):  # by patient and time, as the cache lists them
            parts.observations.sort(key=lambda o: (o.patient_id, o.effective))
        return parts

    def _resolve_patients(self, parts: Output) -> None:
        for batch in self.staging.batches("patient"):
            numbers = {p.nhs_number for _, (p, _, _) in batch if p.nhs_number}
            seen: dict[str, str] = self.staging.fetch("nhs", numbers)
            for _, (patient, where, gps) in batch:
                if patient.nhs_number:
                    other = seen.setdefault(patient.nhs_number, patient.id)
                    if other != patient.id:
                        raise InputError(
                            f"Patient {patient.id!r} has the same NHS number as Patient "
                            f"{other!r}; a duplicate registration must be merged in the EPR "
                            "before import",
                            where=str(where),
                        )
                    self.staging.put("nhs", patient.nhs_number, patient.id)
                gp = ", ".join(n for n in (self._name(g) for g in gps) if n)
                if gp and gp != patient.gp_practice:
                    patient = dataclasses.replace(patient, gp_practice=gp)
                parts.patients.append(patient)

    def _resolve_stays(self, parts: Output) -> None:
        chosen: dict[str, tuple[Stay, Ward]] = {}
        for batch in self.staging.batches("encounter"):
            pids = self._patient_ids(p.patient_ref for _, p in batch)
            for _, pending in batch:
                if not is_current(pending, self.policy.current_only):
                    parts.skipped[
                        f"Encounter {pending.status or 'without status'} (not current)"] += 1
                    continue
                pid = pids[pending.patient_ref]
                if pid is None:
                    raise InputError(
                        f"Encounter {pending.id!r}, field subject: "
                        f"{pending.patient_ref or 'none'} is not in the extract, so a patient "
                        "would be missing from a ward list",
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

    def _resolve_facts(self, parts: Output, as_of: datetime) -> None:
        current = self.policy.current_only
        for batch in self.staging.batches("allergy"):
            pids = self._patient_ids(a.patient_id for _, (a, _, _) in batch)
            for _, (allergy, status, usable) in batch:
                pid = pids[allergy.patient_id]
                if not usable:
                    parts.skipped["AllergyIntolerance refuted or entered in error"] += 1
                elif current and status != "active":
                    parts.skipped[f"AllergyIntolerance {status}"] += 1
                elif pid is None:
                    parts.skipped["AllergyIntolerance about a patient not in the extract"] += 1
                else:
                    parts.allergies.append(dataclasses.replace(allergy, patient_id=pid))
        flag_scales: dict[str, int] = {}
        for batch in self.staging.batches("flag"):
            pids = self._patient_ids(f.alert.patient_id for _, f in batch)
            for _, flag in batch:
                pid = pids[flag.alert.patient_id]
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
        for batch in self.staging.batches("prescription"):
            self._resolve_prescriptions(parts, batch)
        orphans = self.staging.count_unmatched("administered", "used")
        if orphans:
            parts.skipped["MedicationAdministration for a prescription not imported"] += orphans
        refs = self._patient_ids(self.observations.scales)
        scales = {
            pid: scale for ref, (_, scale) in self.observations.scales.items()
            if (pid := refs[ref]) is not None
        }
        scales.update(flag_scales)  # an explicit flag outranks the last NEWS2 score
        parts.spo2_scale.update(scales)

    def _resolve_prescriptions(self, parts: Output, batch: list[tuple[str, Any]]) -> None:
        current = self.policy.current_only
        pids = self._patient_ids(p.prescription.patient_id for _, p in batch)
        given_at: dict[str, datetime] = self.staging.fetch("administered", (k for k, _ in batch))
        for key, pending in batch:
            rx = pending.prescription
            pid = pids[rx.patient_id]
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
            self.staging.put("used", key, None)
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
            given = given_at.get(key)
            last = max((t for t in (rx.last_administered, given) if t), default=None)
            parts.prescriptions.append(dataclasses.replace(
                rx, patient_id=pid, drug=drug or "medicine not stated", drug_code=code,
                prescriber=self._name(pending.requester_ref) or rx.prescriber,
                last_administered=last,
            ))

    def _resolve_observations(self, parts: Output, as_of: datetime) -> None:
        """Observations in the order read, a batch at a time (Parts sorts its list by
        patient and time; the cache lists them so when it reads them)."""
        oldest = window_start(as_of, self.policy.observation_hours)
        hours = self.policy.observation_hours
        when = datetime.fromisoformat
        for rows in self.staging.row_batches("observation"):
            batch = [Observation(i, p, ObservationKind(k), when(e), v, t, u,
                                 when(s) if s is not None else None)
                     for i, p, k, e, v, t, u, s in rows]
            pids = self._patient_ids((o.patient_id for o in batch), bare=True)
            for obs in batch:
                pid = pids[obs.patient_id]
                if oldest is not None and obs.effective < oldest:
                    parts.skipped[f"Observation older than {hours:g} h before data-as-of"] += 1
                elif pid is None:
                    parts.skipped["Observation about a patient not in the extract"] += 1
                elif pid != obs.patient_id:
                    parts.observations.append(dataclasses.replace(obs, patient_id=pid))
                else:
                    parts.observations.append(obs)

    def _resolve_appointments(self, parts: Output) -> None:
        theatre_cases = []
        for batch in self.staging.batches("appointment"):
            refs = {key: pending.patient_ref or next(
                (p.key for p in pending.people
                 if self.aliases.get(p.key, "").startswith("Patient/")), "")
                for key, pending in batch}
            pids = self._patient_ids(refs.values())
            for key, pending in batch:
                if pending.status in NEVER_STATUS or (
                    self.policy.current_only and pending.status not in LIVE_STATUS
                ):
                    parts.skipped[f"Appointment {pending.status or 'without status'}"] += 1
                    continue
                if pending.start is None:
                    parts.skipped["Appointment without a start time"] += 1
                    continue
                ref = refs[key]
                pid = pids[ref]
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
                    parts.appointments.append(
                        to_appointment(pending, pid, self.names, self.places))
        parts.theatre_cases.extend(to_theatre_cases(theatre_cases, self.names))
