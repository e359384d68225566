"""NEWS2 scoring: Royal College of Physicians, National Early Warning Score 2 (2017), chart 1.

The bands are data (``BANDS``) so the paper chart shades the same thresholds that the
scorer uses. Numeric bands are closed intervals on the value as recorded (respiration
rate, SpO2, blood pressure and pulse as integers, temperature to 0.1 degC); values that
fall between two printed bands (e.g. 35.05) take the band whose upper bound they do not
exceed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Band:
    low: float  # inclusive; -inf for the lowest band
    high: float  # inclusive; +inf for the highest band
    score: int


_INF = math.inf

# RCP NEWS2 chart 1. Order within each list: ascending values.
BANDS: dict[str, tuple[Band, ...]] = {
    "resp_rate": (
        Band(-_INF, 8, 3), Band(9, 11, 1), Band(12, 20, 0), Band(21, 24, 2), Band(25, _INF, 3),
    ),
    "spo2_scale1": (
        Band(-_INF, 91, 3), Band(92, 93, 2), Band(94, 95, 1), Band(96, _INF, 0),
    ),
    # Scale 2 (target 88-92 %, e.g. hypercapnic respiratory failure): on air, >= 93 scores 0;
    # on oxygen, 93-94 scores 1, 95-96 scores 2, >= 97 scores 3.
    "spo2_scale2_air": (
        Band(-_INF, 83, 3), Band(84, 85, 2), Band(86, 87, 1), Band(88, _INF, 0),
    ),
    "spo2_scale2_oxygen": (
        Band(-_INF, 83, 3), Band(84, 85, 2), Band(86, 87, 1), Band(88, 92, 0),
        Band(93, 94, 1), Band(95, 96, 2), Band(97, _INF, 3),
    ),
    "sbp": (
        Band(-_INF, 90, 3), Band(91, 100, 2), Band(101, 110, 1), Band(111, 219, 0),
        Band(220, _INF, 3),
    ),
    "pulse": (
        Band(-_INF, 40, 3), Band(41, 50, 1), Band(51, 90, 0), Band(91, 110, 1),
        Band(111, 130, 2), Band(131, _INF, 3),
    ),
    "temp": (
        Band(-_INF, 35.0, 3), Band(35.1, 36.0, 1), Band(36.1, 38.0, 0), Band(38.1, 39.0, 1),
        Band(39.1, _INF, 2),
    ),
}

OXYGEN_SCORE = {"A": 0, "O2": 2}
ACVPU_SCORE = {"A": 0, "C": 3, "V": 3, "P": 3, "U": 3}


def band_score(parameter: str, value: float) -> int:
    """Score one numeric parameter against its chart-1 bands."""
    for band in BANDS[parameter]:
        if value <= band.high:
            return band.score
    raise AssertionError("the last band is open-ended")  # pragma: no cover


def spo2_bands(scale: int, on_oxygen: bool) -> tuple[Band, ...]:
    if scale == 1:
        return BANDS["spo2_scale1"]
    if scale == 2:
        return BANDS["spo2_scale2_oxygen" if on_oxygen else "spo2_scale2_air"]
    raise ValueError(f"SpO2 scale must be 1 or 2, not {scale!r}")


class ClinicalRisk(StrEnum):
    LOW = "low"
    LOW_MEDIUM = "low-medium"  # a single parameter scoring 3
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class News2Observation:
    """One set of vital signs. ``oxygen`` is "A" (air) or "O2"; ``acvpu`` one of A C V P U."""

    resp_rate: float
    spo2: float
    oxygen: str
    sbp: float
    pulse: float
    acvpu: str
    temp: float
    spo2_scale: int = 1


@dataclass(frozen=True, slots=True)
class News2Score:
    total: int
    components: dict[str, int]
    risk: ClinicalRisk

    @property
    def response(self) -> str:
        """RCP 2017 chart 2: clinical response to the score."""
        return RESPONSE[self.risk] if self.total else "Minimum 12-hourly monitoring"


RESPONSE = {
    ClinicalRisk.LOW: "Minimum 4-6-hourly; registered nurse to assess",
    ClinicalRisk.LOW_MEDIUM: "Minimum 1-hourly; urgent ward-based response",
    ClinicalRisk.MEDIUM: "Minimum 1-hourly; urgent response by clinician",
    ClinicalRisk.HIGH: "Continuous monitoring; emergency response",
}


def score(obs: News2Observation) -> News2Score:
    """Compute the NEWS2 total and its components (RCP 2017, chart 1 and chart 2)."""
    oxygen = obs.oxygen.strip().upper()
    if oxygen not in OXYGEN_SCORE:
        raise ValueError(f"air or oxygen must be 'A' or 'O2', not {obs.oxygen!r}")
    acvpu = obs.acvpu.strip().upper()
    if acvpu not in ACVPU_SCORE:
        raise ValueError(f"consciousness must be one of A, C, V, P, U, not {obs.acvpu!r}")
    spo2_score = 0
    for band in spo2_bands(obs.spo2_scale, oxygen == "O2"):
        if obs.spo2 <= band.high:
            spo2_score = band.score
            break
    components = {
        "resp_rate": band_score("resp_rate", obs.resp_rate),
        "spo2": spo2_score,
        "oxygen": OXYGEN_SCORE[oxygen],
        "sbp": band_score("sbp", obs.sbp),
        "pulse": band_score("pulse", obs.pulse),
        "acvpu": ACVPU_SCORE[acvpu],
        "temp": band_score("temp", obs.temp),
    }
    total = sum(components.values())
    if total >= 7:
        risk = ClinicalRisk.HIGH
    elif total >= 5:
        risk = ClinicalRisk.MEDIUM
    elif 3 in components.values():
        risk = ClinicalRisk.LOW_MEDIUM
    else:
        risk = ClinicalRisk.LOW
    return News2Score(total=total, components=components, risk=risk)
