"""What each reader hands to ``read_extract``: lists of domain records and skip counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from paperfallback.domain.records import (
    Alert,
    Allergy,
    Appointment,
    Observation,
    Patient,
    Prescription,
    Stay,
    TheatreCase,
    Ward,
)


@dataclass
class Parts:
    patients: list[Patient] = field(default_factory=list)
    wards: list[Ward] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    prescriptions: list[Prescription] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    theatre_cases: list[TheatreCase] = field(default_factory=list)
    spo2_scale: dict[str, int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)

    def extend(self, other: Parts) -> None:
        for name in ("patients", "wards", "stays", "allergies", "alerts", "prescriptions",
                     "observations", "appointments", "theatre_cases"):
            getattr(self, name).extend(getattr(other, name))
        self.spo2_scale.update(other.spo2_scale)
        self.skipped.update(other.skipped)
