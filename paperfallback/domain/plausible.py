"""Is a printed quantity possible at all? Doses, rates and maxima range-checked once.

An extract printed a dose of ``-500 mL`` and one of ``1e400`` (infinity) on a drug chart
(issue 13, item 3). These are not clinical limits (the prescriber and pharmacist own
those) but the edge of the possible: a value that is not a finite number, is negative, is
zero where zero means nothing (a dose, a rate, a maximum), or is beyond any single dose of
anything in that unit (more than 200 g, 10 L, 100 million units, 100 tablets ...). Such a
value is never printed: the chart says CHECK_DOSE instead, so the nurse asks the prescriber
rather than reading a number that cannot be right (docs/clinical-safety/hazard-log.md,
X-IMP-7, says why it is printed so rather than refused).
"""

from __future__ import annotations

import math
import re

CHECK_DOSE = "check dose with prescriber"
CHECK_DOSE_NOTE = f"dose printed as '{CHECK_DOSE}'"  # how the import summary lists each

# The largest plausible single amount per unit, as written after domain units are made safe
# (fhir_values.SAFE_UNITS): generous by design, so only the impossible is caught.
_MASS_G = {"g": 1.0, "mg": 1e-3, "microgram": 1e-6, "nanogram": 1e-9, "kg": 1e3}
_MAX_MASS_G = 200.0  # more than any single dose of anything (mannitol 100 g is large)
_VOLUME_ML = {"mL": 1.0, "litre": 1e3, "L": 1e3, "l": 1e3}
_MAX_VOLUME_ML = 10_000.0
_CAPS: dict[str, float] = {
    "units": 1e8,  # benzathine benzylpenicillin is 2.4 million units
    "mmol": 10_000.0,
}
_COUNTED = frozenset({
    "tablet", "tablets", "capsule", "capsules", "puff", "puffs", "drop", "drops", "sachet",
    "sachets", "patch", "patches", "suppository", "suppositories", "spray", "sprays",
    "dose", "doses", "application", "applications", "vial", "vials", "ampoule", "ampoules",
    "pessary", "pessaries", "lozenge", "lozenges", "actuation", "actuations",
})
_MAX_COUNTED = 100.0
_MAX_OTHER = 1e6  # any other unit: only the absurd


def amount_problem(value: object, unit: str = "", *, what: str = "dose") -> str:
    """Why ``value`` (in ``unit``) cannot be a printed dose, rate or maximum; '' if it can.

    ``unit`` may be a rate ("mL/h"): its numerator unit is what is capped."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{what} {value!r} is not a number"
    if not math.isfinite(value):
        return f"{what} {value!r} is not a finite number"
    shown = f"{what} {_number(value)} {unit}".rstrip()
    if value < 0:
        return f"{shown} is negative"
    if value == 0:
        return f"{shown} is zero"
    base = unit.split("/", 1)[0].strip()
    if base in _MASS_G and value * _MASS_G[base] > _MAX_MASS_G:
        return f"{shown} is more than {_number(_MAX_MASS_G)} g"
    if base in _VOLUME_ML and value * _VOLUME_ML[base] > _MAX_VOLUME_ML:
        return f"{shown} is more than {_number(_MAX_VOLUME_ML / 1000)} litres"
    if base in _CAPS and value > _CAPS[base]:
        return f"{shown} is more than {_number(_CAPS[base])} {base}"
    if base.lower() in _COUNTED and value > _MAX_COUNTED:
        return f"{shown} is more than {_number(_MAX_COUNTED)}"
    known = base in _MASS_G or base in _VOLUME_ML or base in _CAPS or base.lower() in _COUNTED
    if not known and value > _MAX_OTHER:
        return f"{shown} is implausibly large"
    return ""


def range_problem(low: object, high: object, unit: str = "", *, what: str = "dose") -> str:
    """A dose range "1-2 tablets": each end possible, and the low end not above the high."""
    problem = amount_problem(low, unit, what=f"{what} range low") or amount_problem(
        high, unit, what=f"{what} range high")
    if not problem and isinstance(low, int | float) and isinstance(high, int | float) \
            and low > high:
        problem = f"{what} range {_number(low)}-{_number(high)} {unit} is upside down".rstrip()
    return problem


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf(?:inity)?|nan)"
_DOSE_TEXT = re.compile(
    rf"^\s*(?P<low>{_NUMBER})(?:\s*-\s*(?P<high>{_NUMBER}))?\s*(?P<unit>[^\s\d][^\s]*)?",
    re.IGNORECASE,
)


def dose_text_problem(text: str, *, what: str = "dose") -> str:
    """The same check for a dose written as text ("500 mg", "-500 mL", "1e400 mg",
    "1-2 tablets"), as CSV/xlsx extracts give it; text without a leading number ("as
    directed") is not a quantity and passes."""
    match = _DOSE_TEXT.match(text)
    if match is None:
        return ""
    unit = match.group("unit") or ""
    low = float(match.group("low"))
    if match.group("high") is not None:
        return range_problem(low, float(match.group("high")), unit, what=what)
    return amount_problem(low, unit, what=what)


def reading_problem(value: float | None) -> str:
    """An observation value that cannot be a reading (printed on a NEWS2 chart): not
    finite, or negative (no NEWS2 parameter, in any unit PaperFallback reads, goes below 0)."""
    if value is None:
        return ""
    if not math.isfinite(value):
        return f"value {value!r} is not a finite number"
    if value < 0:
        return f"value {_number(value)} is negative"
    return ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"
