"""The one NEWS2 input builder: from a chart column's values, as keyed or as cached, to
the :class:`~paperfallback.domain.news2.News2Observation` that is scored.

Before this module five paths built NEWS2 input from keyed values and disagreed on the
SpO2 scale when the nurse had not written "Scale used": the keying screen took the EPR's
scale, workbook import and CSV/xlsx took Scale 1, FHIR a context key nobody set, so the
same column scored 5 in CSV and 2 in FHIR (hazard log T-NEWS2-1). Now the keying session
(screen and workbook), discrepancy detection, the next chart and ward list
(:mod:`paperfallback.domain.keyed`, ``cache.ward_summary``), CSV/xlsx and FHIR all call
:func:`news2_input`, and the scale rule is :func:`spo2_scale_for`: the scale keyed in the
column, else the scale printed on the chart (decided once at print time and recorded on
the issued form in the register), else Scale 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from paperfallback.domain.news2 import ACVPU_SCORE, News2Observation, News2Score, score

# The NEWS2 chart rows the builder reads, by name: the seven scored parameters, the two
# charted but not scored (diastolic BP, oxygen flow), the scale and the handwritten total.
# Forms declare which field records which (roles ``news2.<name>`` in forms/*.yaml, read by
# ``FormSpec.news2_values`` / ``news2_fields``); these names are also the bundled chart's
# field ids, the fallback where no form definition is at hand.
NEWS2_FIELDS: Final[dict[str, str]] = {
    "resp_rate": "resp_rate", "spo2": "spo2", "spo2_scale": "spo2_scale",
    "oxygen": "oxygen", "o2_flow": "o2_flow", "sbp": "sbp", "dbp": "dbp", "pulse": "pulse",
    "acvpu": "acvpu", "temp": "temp", "news2_total": "news2_total",
}
PARAMETERS: Final = ("resp_rate", "spo2", "oxygen", "sbp", "pulse", "acvpu", "temp")
NUMERIC: Final = frozenset({"resp_rate", "spo2", "sbp", "pulse", "temp"})
SCALE: Final = "spo2_scale"  # the column's "Scale used (1/2)" row
TOTAL: Final = "news2_total"  # the total as handwritten
_AIR: Final = {"A": "A", "AIR": "A", "O2": "O2", "OXYGEN": "O2"}

# A value as a path holds it: keyed text, a cached number, or None when not a value.
Raw = str | float | int | None


def field_of(parameter: str) -> str:
    """The form field that records ``parameter`` (reverse of :data:`NEWS2_FIELDS`)."""
    return next(f for f, p in NEWS2_FIELDS.items() if p == parameter)


def is_news2_column(field_ids: set[str] | frozenset[str]) -> bool:
    """True when a chart section records every NEWS2 parameter and the total."""
    needed = {field_of(p) for p in (*PARAMETERS, TOTAL)}
    return needed <= set(field_ids)


def parse_scale(raw: Raw) -> int | None:
    """1 or 2 from a keyed "Scale used" (or a stored scale); None for anything else."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        return int(raw) if raw in (1, 2) else None
    text = raw.strip().lower().removeprefix("scale").strip()
    return int(text) if text in ("1", "2") else None


def spo2_scale_for(keyed: Raw, printed: int | None) -> int:
    """The SpO2 scale a column is scored on (RCP NEWS2 2017, chart 1): the scale keyed in
    the column overrides the one printed on the chart; a chart printed without one (a
    blank copy, or a form from an earlier version) is scored on Scale 1, as it says."""
    return parse_scale(keyed) or (printed if printed in (1, 2) else None) or 1


def chart_spo2_scale(epr_scale: int | None) -> int:
    """The SpO2 scale a patient's NEWS2 chart is printed with, decided once at print time:
    the EPR's, else Scale 1 (the chart says "Scale 1 unless a clinician prescribes Scale
    2"). It is recorded on the issued form (``IssuedForm.spo2_scale``)."""
    return epr_scale if epr_scale in (1, 2) else 1


@dataclass(frozen=True, slots=True)
class News2Input:
    """What one column gives NEWS2: the observation to score, or which parameters are
    missing (blank, illegible, not recorded, or not a value the chart knows)."""

    observation: News2Observation | None
    missing: tuple[str, ...]
    scale: int
    scale_keyed: bool
    handwritten: int | None  # the total as written on the paper, if keyed as a number

    @property
    def score(self) -> News2Score | None:
        return score(self.observation) if self.observation is not None else None

    @property
    def total(self) -> int | None:
        result = self.score
        return result.total if result is not None else None


def _number(raw: Raw) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        try:
            value = float(raw.strip())
        except ValueError:
            return None
    return value if math.isfinite(value) else None


def _code(raw: Raw) -> str:
    return raw.strip().upper() if isinstance(raw, str) else ""


def news2_input(values: Mapping[str, Raw], *, printed_scale: int | None) -> News2Input:
    """Build the NEWS2 input of one column. ``values`` maps form field ids (see
    :data:`NEWS2_FIELDS`) to the value as keyed or cached; None or missing means no value
    (blank, illegible, not recorded). ``printed_scale`` is the issued form's scale."""
    by_parameter = {p: values.get(f) for f, p in NEWS2_FIELDS.items()}
    keyed_scale = parse_scale(by_parameter[SCALE])
    scale = spo2_scale_for(keyed_scale, printed_scale)
    numbers = {p: _number(by_parameter[p]) for p in NUMERIC}
    oxygen = _AIR.get(_code(by_parameter["oxygen"]), "")
    acvpu = _code(by_parameter["acvpu"])
    acvpu = acvpu if acvpu in ACVPU_SCORE else ""
    missing = tuple(p for p in PARAMETERS
                    if (numbers[p] is None if p in NUMERIC else
                        not (oxygen if p == "oxygen" else acvpu)))
    written = _number(by_parameter[TOTAL])
    handwritten = int(written) if written is not None else None
    if missing:
        return News2Input(None, missing, scale, keyed_scale is not None, handwritten)
    observation = News2Observation(
        resp_rate=_req(numbers["resp_rate"]), spo2=_req(numbers["spo2"]), oxygen=oxygen,
        sbp=_req(numbers["sbp"]), pulse=_req(numbers["pulse"]), acvpu=acvpu,
        temp=_req(numbers["temp"]), spo2_scale=scale)
    return News2Input(observation, (), scale, keyed_scale is not None, handwritten)


def _req(value: float | None) -> float:
    if value is None:  # pragma: no cover - excluded by ``missing``
        raise AssertionError("a missing parameter reached scoring")
    return value
