"""The facts a ward cache holds, as plain frozen dataclasses.

Each fact keeps ``source_time``: when the source system last recorded it, so pages
and screens can say how old a fact is, not only how old the cache is.
Keys (``patient_id`` and friends) are the cache's own stable ids, taken from the
extract's resource ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Sex(StrEnum):
    """Administrative gender, as FHIR R4 codes it."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Phone:
    value: str
    use: str = ""  # home, work, mobile, temp (FHIR ContactPoint.use)


@dataclass(frozen=True, slots=True)
class NextOfKin:
    name: str
    relationship: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Patient:
    id: str
    nhs_number: str | None  # 10 digits, validated by Modulus 11, or None
    hospital_number: str | None
    family: str
    given: str
    birth_date: date | None
    sex: Sex = Sex.UNKNOWN
    address: str = ""
    phones: tuple[Phone, ...] = ()
    next_of_kin: tuple[NextOfKin, ...] = ()
    gp_practice: str = ""
    source_time: datetime | None = None
    # Died (FHIR Patient.deceased[x]): never on a ward, clinic or theatre list as current;
    # printed explicitly, every page says DECEASED with the date (None: date not known).
    deceased: bool = False
    deceased_date: date | None = None
    # The name exactly as the extract sent it, when it differed from the clean one printed
    # and searched (invisible or bidi control characters, not NFC: domain.names).
    family_as_received: str = ""
    given_as_received: str = ""

    @property
    def display_name(self) -> str:
        """FAMILY, Given: the order used on NHS wristbands and banners."""
        return f"{self.family.upper()}, {self.given}".strip(", ")

    @property
    def death_text(self) -> str:
        """'DECEASED 09-May-1989' (the date as every form prints dates), or '' if alive:
        the one wording on pages, lists and screens."""
        if not self.deceased:
            return ""
        if self.deceased_date is None:
            return "DECEASED (date not recorded)"
        return f"DECEASED {self.deceased_date.strftime('%d-%b-%Y')}"


@dataclass(frozen=True, slots=True)
class Ward:
    code: str
    name: str
    site: str = ""


@dataclass(frozen=True, slots=True)
class Stay:
    """The current inpatient stay (FHIR Encounter, class IMP)."""

    id: str
    patient_id: str
    ward_code: str
    bed: str = ""
    site: str = ""
    consultant: str = ""
    specialty: str = ""
    admitted_at: datetime | None = None
    source_time: datetime | None = None


class AllergyStatus(StrEnum):
    """What the cache says about allergies: never confuse 'none known' with 'not recorded'."""

    RECORDED = "recorded"
    NONE_KNOWN = "none_known"
    NOT_RECORDED = "not_recorded"


@dataclass(frozen=True, slots=True)
class Allergy:
    """One AllergyIntolerance. ``no_known_allergies`` marks a recorded NKA statement
    (SNOMED 716186003 and the like) rather than an allergy."""

    id: str
    patient_id: str
    substance: str
    reaction: str = ""
    severity: str = ""
    criticality: str = ""
    category: str = ""
    no_known_allergies: bool = False
    source_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert flag (FHIR Flag): resuscitation status, infection risk, falls risk ..."""

    id: str
    patient_id: str
    text: str
    category: str = ""
    code: str = ""
    source_time: datetime | None = None


class PrescriptionKind(StrEnum):
    REGULAR = "regular"
    PRN = "prn"
    ONCE = "once"
    INFUSION = "infusion"


@dataclass(frozen=True, slots=True)
class Prescription:
    id: str
    patient_id: str
    drug: str
    dose: str = ""
    route: str = ""
    frequency: str = ""
    dose_times: tuple[str, ...] = ()  # "HH:MM", 24 h
    kind: PrescriptionKind = PrescriptionKind.REGULAR
    prn_indication: str = ""
    prn_max_24h: str = ""
    start_date: date | None = None
    last_administered: datetime | None = None
    prescriber: str = ""
    instructions: str = ""
    drug_code: str = ""  # dm+d / SNOMED where known
    source_time: datetime | None = None


class ObservationKind(StrEnum):
    """The NEWS2 parameters; values match the NEWS2 form's keyed field ids."""

    RESP_RATE = "resp_rate"
    SPO2 = "spo2"
    OXYGEN = "oxygen"  # "A" (air) or "O2"
    O2_FLOW = "o2_flow"
    SBP = "sbp"
    DBP = "dbp"
    PULSE = "pulse"
    ACVPU = "acvpu"  # "A", "C", "V", "P", "U"
    TEMP = "temp"
    NEWS2_TOTAL = "news2_total"


@dataclass(frozen=True, slots=True)
class Observation:
    id: str
    patient_id: str
    kind: ObservationKind
    effective: datetime
    value: float | None = None
    text: str = ""  # coded values (ACVPU, oxygen) and device names
    unit: str = ""
    source_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    patient_id: str
    clinic: str
    start: datetime
    end: datetime | None = None
    clinician: str = ""
    location: str = ""
    status: str = "booked"
    description: str = ""
    source_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class TheatreCase:
    id: str
    patient_id: str
    theatre: str
    session_date: date
    planned_order: int
    procedure: str
    planned_start: datetime | None = None
    surgeon: str = ""
    anaesthetist: str = ""
    status: str = "booked"
    source_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one extract holds, ready to replace the cache in one transaction.

    ``as_of_source`` says where ``data_as_of`` came from: "option", "bundle.timestamp",
    "manifest.transactionTime", "log.ndjson transactionTime" (the bulk-data-client's log),
    "meta.lastUpdated", "drop marker time", or "import time": the data's own time is then
    not known and the cache is always stale (``cache.staleness.as_of_is_known``).
    """

    data_as_of: datetime
    as_of_source: str
    patients: tuple[Patient, ...] = ()
    wards: tuple[Ward, ...] = ()
    stays: tuple[Stay, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    alerts: tuple[Alert, ...] = ()
    prescriptions: tuple[Prescription, ...] = ()
    observations: tuple[Observation, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    theatre_cases: tuple[TheatreCase, ...] = ()
    spo2_scale: dict[str, int] = field(default_factory=dict)  # patient_id -> 1 or 2
    sources: tuple[str, ...] = ()  # files read
    skipped: dict[str, int] = field(default_factory=dict)  # what was skipped -> count

    def counts(self) -> dict[str, int]:
        return {
            "patients": len(self.patients),
            "deceased": sum(1 for p in self.patients if p.deceased),
            "wards": len(self.wards),
            "stays": len(self.stays),
            "allergies": len(self.allergies),
            "alerts": len(self.alerts),
            "prescriptions": len(self.prescriptions),
            "observations": len(self.observations),
            "appointments": len(self.appointments),
            "theatre_cases": len(self.theatre_cases),
        }


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """One patient with everything forms need, as read back from the cache."""

    patient: Patient
    stay: Stay | None
    ward: Ward | None
    allergies: tuple[Allergy, ...]
    alerts: tuple[Alert, ...]
    prescriptions: tuple[Prescription, ...]
    observations: tuple[Observation, ...]  # oldest first
    spo2_scale: int | None = None

    @property
    def allergy_status(self) -> AllergyStatus:
        if any(not a.no_known_allergies for a in self.allergies):
            return AllergyStatus.RECORDED
        if any(a.no_known_allergies for a in self.allergies):
            return AllergyStatus.NONE_KNOWN
        return AllergyStatus.NOT_RECORDED

    @property
    def true_allergies(self) -> tuple[Allergy, ...]:
        return tuple(a for a in self.allergies if not a.no_known_allergies)
