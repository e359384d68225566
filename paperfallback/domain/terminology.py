"""Every clinical code PaperFallback reads or writes, defined once with its display text.

Before this module the NEWS2 codes were written four times (forms, importer, exporter,
demo) and the copies disagreed: the importer read the SpO2 scale 2 score as
``1104321000000109``, which fails the SNOMED CT check digit, while the exporter wrote the
real ``1104321000000108``, so a scale 2 patient's chart printed on Scale 1 (hazard log
T-TERM-1). Now the exporters write the constants here *forward*, the importers look codes
up here *in reverse* (``*_OF_CODE`` tables, built from the same constants), the demo
writes them, and ``tests/unit/test_terminology.py`` checks every SNOMED CT identifier's
Verhoeff check digit and every LOINC code's mod-10 check digit.

Sources: UK Core example bundle ``UKCore-Bundle-NEWS2Observations-Example.json`` (the
codes and UCUM units written), RCP NEWS2 2017 (the parameters), SNOMED CT UK edition,
LOINC. The form definitions (forms/*.yaml) carry their own codes as data; a test keeps
every one of them valid and, where it names a NEWS2 parameter, equal to the codes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# ---- code systems and identifier systems -------------------------------------------------

SNOMED: Final = "http://snomed.info/sct"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
DMD: Final = "https://dmd.nhs.uk"
DMD_SYSTEMS: Final = (DMD, SNOMED)  # dm+d codes are SNOMED CT identifiers in either system
NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
LOCAL_PATIENT_ID_SYSTEM: Final = "https://fhir.nhs.uk/Id/local-patient-identifier"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# PaperFallback's own documented code system (docs/formats.md) for a Flag that states the
# SpO2 scale where an EPR has no NEWS2 total to carry it.
SPO2_SCALE_SYSTEM: Final = "https://fhir.paperfallback.example/CodeSystem/news2-spo2-scale"
SPO2_SCALE_FLAG_CODES: Final = {"scale-1": 1, "scale-2": 2}


@dataclass(frozen=True, slots=True)
class Code:
    """A FHIR Coding: system, code and the display text written with it."""

    system: str
    code: str
    display: str = ""


def _sct(code: str, display: str) -> Code:
    return Code(SNOMED, code, display)


def _loinc(code: str, display: str) -> Code:
    return Code(LOINC, code, display)


# ---- NEWS2 parameters ------------------------------------------------------------------
# The parameter names are the NEWS2 form's field ids and ObservationKind values.

# Written by the FHIR export, exactly as the UK Core example bundle codes them.
VITAL_CODES: Final[dict[str, tuple[Code, ...]]] = {
    "resp_rate": (_sct("86290005", "Respiratory rate"), _loinc("9279-1", "Respiratory Rate")),
    "pulse": (_sct("364075005", "Heart rate"), _sct("78564009", "Pulse rate"),
              _loinc("8867-4", "Heart rate")),
    "spo2": (_sct("103228002", "Hemoglobin saturation with oxygen"),
             _loinc("2708-6", "Oxygen saturation in Arterial blood")),
    "temp": (_sct("276885007", "Core body temperature"), _loinc("8310-5", "Body temperature")),
    "bp": (_sct("75367002", "Blood pressure"),
           _loinc("85354-9", "Blood pressure panel with all children optional")),
    "sbp": (_sct("72313002", "Systolic arterial pressure"),
            _loinc("8480-6", "Systolic blood pressure")),
    "dbp": (_sct("1091811000000102", "Diastolic arterial pressure"),
            _loinc("8462-4", "Diastolic blood pressure")),
    "o2_flow": (_loinc("3151-8", "Inhaled oxygen flow rate"),),
    "acvpu": (_sct("1104441000000107",
                   "ACVPU (Alert Confusion Voice Pain Unresponsive) scale score"),),
}

# Also recognised on import (EPRs code the same reading in other ways); never written.
READ_ALSO: Final[dict[str, tuple[Code, ...]]] = {
    "resp_rate": (_sct("271625008", "Rate of spontaneous respiration"),),
    "spo2": (_loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
             _loinc("20564-1", "Oxygen saturation in Blood"),
             _loinc("59417-6", "Oxygen saturation in Arterial blood by Pulse oximetry --resting"),
             _sct("431314004", "Peripheral oxygen saturation")),
    "sbp": (_sct("271649006", "Systolic blood pressure"),),
    "dbp": (_sct("271650006", "Diastolic blood pressure"),),
    "pulse": (_loinc("8889-8", "Heart rate by Pulse oximetry"),),
    "temp": (_loinc("8331-1", "Oral temperature"), _sct("386725007", "Body temperature")),
    "acvpu": (_loinc("67775-7", "Level of responsiveness"),),
}
# Never read as a NEWS2 parameter although earlier versions did: LOINC 19935-6 is the peak
# expiratory flow (L/min), not the oxygen flow, so a peak flow of 400 printed as O2 400 L/min.
NOT_OXYGEN_FLOW: Final = _loinc(
    "19935-6", "Maximum expiratory gas flow Respiratory system airway by Peak flow meter")

# A blood-pressure panel: its systolic/diastolic components are read by their own codes.
BP_PANEL_CODES: Final = frozenset({c.code for c in VITAL_CODES["bp"]} | {
    "55284-4",  # LOINC Blood pressure systolic and diastolic
    "35094-2",  # LOINC Blood pressure panel
    "163020007",  # SNOMED CT O/E - blood pressure reading
})

# ---- air or oxygen (RCP NEWS2 chart 1: "A" or "O2") ------------------------------------

AIR_OR_OXYGEN: Final[dict[str, Code]] = {
    "A": _sct("722742002", "Breathing room air"),
    "O2": _sct("371825009", "Patient on oxygen"),
}
OXYGEN_READ_ALSO: Final = (
    _sct("57485005", "Oxygen therapy"),
    _loinc("3150-0", "Inhaled oxygen concentration"),
)
ROOM_AIR: Final = AIR_OR_OXYGEN["A"].code

# ---- ACVPU (RCP NEWS2 chart 1: new confusion scores 3) ---------------------------------

ACVPU_VALUES: Final[dict[str, Code]] = {
    "A": _sct("248234008", "Mentally alert"),
    "C": _sct("130987000", "Acute confusion"),
    "V": _sct("300202002", "Responds to voice"),
    "P": _sct("450847001", "Responds to pain"),
    "U": _sct("422768004", "Unresponsive"),
}
# Words an EPR may send as text instead of a code (lower-case stems).
ACVPU_WORDS: Final = (("alert", "A"), ("confus", "C"), ("voice", "V"), ("pain", "P"),
                      ("unrespons", "U"))

# ---- NEWS2 total and its component scores ----------------------------------------------

NEWS2_TOTAL: Final = _sct(
    "1104051000000101",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score")
_SCORE: Final = "Royal College of Physicians NEWS2 (National Early Warning Score 2) - "
# The component that names the SpO2 scale: how an extract says which scale applies.
SPO2_SCALE_SCORE: Final[dict[int, Code]] = {
    1: _sct("1104311000000102", _SCORE + "oxygen saturation scale 1 score"),
    2: _sct("1104321000000108", _SCORE + "oxygen saturation scale 2 score"),
}
# Component score codes (the SpO2 one per scale, above), in the UK Core example's order.
COMPONENT_CODES: Final[dict[str, Code]] = {
    "resp_rate": _sct("1104301000000104", _SCORE + "respiration rate score"),
    "pulse": _sct("1104351000000103", _SCORE + "pulse score"),
    "oxygen": _sct("1104331000000105", _SCORE + "air or oxygen score"),
    "temp": _sct("1104371000000107", _SCORE + "temperature score"),
    "sbp": _sct("1104341000000101", _SCORE + "systolic blood pressure score"),
    "acvpu": _sct("1104361000000100", _SCORE + "consciousness score"),
}

# ---- units: the word printed on paper and the UCUM written to FHIR ----------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit as printed on paper and screens (``printed``) and as UCUM (``ucum`` code,
    ``display`` the human unit FHIR writes beside it)."""

    printed: str
    ucum: str
    display: str

    def quantity(self) -> dict[str, str]:
        """The unit part of a FHIR valueQuantity."""
        return {"unit": self.display, "system": UCUM, "code": self.ucum}


# Per NEWS2 parameter, as the UK Core example bundle writes them (UCUM annotations).
PARAMETER_UNITS: Final[dict[str, Unit]] = {
    "resp_rate": Unit("/min", "{Breaths}/min", "Breaths / minute"),
    "pulse": Unit("/min", "{beats}/min", "heart beats per minute"),
    "spo2": Unit("%", "%", "percent"),
    "temp": Unit("°C", "Cel", "degree Celsius"),
    "sbp": Unit("mmHg", "mm[Hg]", "millimeter of mercury"),
    "dbp": Unit("mmHg", "mm[Hg]", "millimeter of mercury"),
    "o2_flow": Unit("L/min", "L/min", "liter per minute"),
    "news2_total": Unit("", "{ScoreOf}", "ScoreOf"),
}
SCORE_UNIT: Final = PARAMETER_UNITS["news2_total"]
# UCUM for the units forms print (keys: the printed word, as forms/*.yaml writes it).
PRINTED_UNITS: Final[dict[str, Unit]] = {
    u.printed: u for u in (
        Unit("/min", "/min", "per minute"),
        Unit("%", "%", "percent"),
        Unit("mmHg", "mm[Hg]", "millimeter of mercury"),
        Unit("°C", "Cel", "degree Celsius"),
        Unit("L/min", "L/min", "liter per minute"),
        Unit("ml", "mL", "milliliter"),
        Unit("mL", "mL", "milliliter"),
        Unit("kg", "kg", "kilogram"),
    )
}
FAHRENHEIT: Final = "[degF]"  # UCUM; an imported temperature in it is converted to °C

# ---- MAR omission codes (printed in the legend of forms/mar.yaml; a test keeps them equal)

OMISSION_REASONS: Final[dict[str, str]] = {
    "1": "Patient refused",
    "2": "Nil by mouth",
    "3": "Drug unavailable (inform prescriber)",
    "4": "Patient away from ward",
    "5": "Vomiting / unable to take",
    "6": "Withheld on clinical grounds (document why)",
    "7": "Self-administered",
    "8": "Other (document in notes)",
}

# ---- fluid balance (forms/fluid-balance.yaml codes its urine output so) ----------------

URINE_OUTPUT: Final = _loinc("9187-6", "Urine output")

# ---- allergies and theatre roles (read from extracts) ------------------------------------

# SNOMED CT "no known ..." situations (UK Core AllergyIntolerance guidance): a recorded
# statement of no allergies, never an allergy to a substance.
NO_KNOWN_ALLERGY: Final = (
    _sct("716186003", "No known allergy"),
    _sct("409137002", "No known drug allergy"),
    _sct("429625007", "No known food allergy"),
    _sct("428607008", "No known environmental allergy"),
    _sct("428197003", "No known insect allergy"),
)
NO_KNOWN_ALLERGY_CODES: Final = frozenset(c.code for c in NO_KNOWN_ALLERGY)
SURGEON: Final = _sct("304292004", "Surgeon")
ANAESTHETIST: Final = _sct("88189002", "Anaesthetist")

# ---- reverse look-ups, for importers -----------------------------------------------------


def _reverse() -> dict[str, str]:
    out: dict[str, str] = {}
    for table in (VITAL_CODES, READ_ALSO):
        for parameter, codes in table.items():
            if parameter == "bp":
                continue
            for code in codes:
                out[code.code] = parameter
    for code in (*AIR_OR_OXYGEN.values(), *OXYGEN_READ_ALSO):
        out[code.code] = "oxygen"
    out[NEWS2_TOTAL.code] = "news2_total"
    return out


# code (LOINC or SNOMED CT) -> NEWS2 parameter; LOINC codes carry a hyphen, so never collide.
PARAMETER_OF_CODE: Final = MappingProxyType(_reverse())
SPO2_SCALE_OF_CODE: Final = MappingProxyType({c.code: s for s, c in SPO2_SCALE_SCORE.items()})
ACVPU_OF_CODE: Final = MappingProxyType({c.code: letter for letter, c in ACVPU_VALUES.items()})


def acvpu_letter(codes: frozenset[str] | set[str], text: str) -> str:
    """The ACVPU letter an extract means by a coded value or its text ('' if neither)."""
    for code in codes:
        if code in ACVPU_OF_CODE:
            return ACVPU_OF_CODE[code]
    text = text.strip()
    if text.upper() in ACVPU_VALUES:
        return text.upper()
    lowered = text.lower()
    return next((letter for word, letter in ACVPU_WORDS if word in lowered), "")


# ---- check digits (a wrong digit is a different concept, or none) -----------------------

_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)


def _permutations() -> tuple[tuple[int, ...], ...]:
    # Verhoeff's position permutation: row i is row 1 applied i times (no typed table).
    rows = [tuple(range(10)), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)]
    while len(rows) < 8:
        rows.append(tuple(rows[-1][rows[1][j]] for j in range(10)))
    return tuple(rows)


_P = _permutations()


def sctid_is_valid(sctid: str) -> bool:
    """True when a SNOMED CT identifier's last digit is its Verhoeff check digit
    (SNOMED CT Technical Implementation Guide, "Check-digit computation")."""
    if not sctid.isdigit() or not 6 <= len(sctid) <= 18 or sctid[0] == "0":
        return False
    check = 0
    for i, digit in enumerate(reversed(sctid)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def loinc_is_valid(code: str) -> bool:
    """True when a LOINC code's digit after the hyphen is its mod-10 check digit
    (LOINC Users' Guide, "Check digit calculation")."""
    body, sep, check = code.partition("-")
    if not sep or not body.isdigit() or len(check) != 1 or not check.isdigit():
        return False
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10 == int(check)


# ---- scanned paper filed as an image (scan-back, docs/export.md) -------------------------
# DocumentReference.type of a returned paper form filed as its scanned pages: the SNOMED CT
# record artifact concept; the form's own title goes in type.text (no code exists per form).
SCANNED_FORM_TYPE: Final = _sct("419891008", "Record artifact")


def all_codes() -> list[Code]:
    """Every code defined here (the check-digit test walks them all)."""
    out: list[Code] = [NEWS2_TOTAL, *SPO2_SCALE_SCORE.values(), *COMPONENT_CODES.values(),
                       *AIR_OR_OXYGEN.values(), *OXYGEN_READ_ALSO, *ACVPU_VALUES.values(),
                       NOT_OXYGEN_FLOW, *NO_KNOWN_ALLERGY, SURGEON, ANAESTHETIST, URINE_OUTPUT,
                       SCANNED_FORM_TYPE]
    for table in (VITAL_CODES, READ_ALSO):
        for codes in table.values():
            out.extend(codes)
    out += [Code(SNOMED if c.isdigit() else LOINC, c) for c in sorted(BP_PANEL_CODES)]
    return out
