"""Vital signs and NEWS2, as UK Core models them.

Sources: UK Core examples UKCore-Bundle-NEWS2Observations-Example and
UKCore-Observation-VitalSigns-RespiratoryRate-Example (LOINC and SNOMED CT codes); RCP
NEWS2 2017 for the parameters. A blood-pressure panel gives two observations (systolic,
diastolic). The NEWS2 total's component "oxygen saturation scale 1|2 score" says which
SpO2 scale the patient is scored on.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from paperfallback.cache.importers.as_of import parse_datetime
from paperfallback.cache.importers.fhir_files import Where
from paperfallback.cache.importers.fhir_people import meta_time
from paperfallback.cache.importers.fhir_values import (
    Json,
    codes_of,
    dicts,
    reference_key,
    text_of,
)
from paperfallback.domain import terminology as terms
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import Observation, ObservationKind

K = ObservationKind
# code (LOINC or SNOMED CT) -> kind, looked up in reverse from the one terminology module.
CODE_KINDS: dict[str, ObservationKind] = {
    code: ObservationKind(parameter) for code, parameter in terms.PARAMETER_OF_CODE.items()}
USABLE_STATUS = frozenset({"final", "amended", "corrected", "preliminary", ""})
UNITS = {kind: terms.PARAMETER_UNITS[kind.value].printed
         for kind in (K.RESP_RATE, K.SPO2, K.SBP, K.DBP, K.PULSE, K.TEMP, K.O2_FLOW,
                      K.NEWS2_TOTAL)}


class ObservationReader:
    """Maps Observation resources; shares repeated strings and times to save memory
    (a whole-hospital extract holds hundreds of thousands of them)."""

    def __init__(self) -> None:
        self._times: dict[str, datetime] = {}
        self.skipped: dict[str, int] = {}
        self.scales: dict[str, tuple[datetime, int]] = {}  # patient ref -> (time, scale)

    def _skip(self, why: str) -> list[Observation]:
        self.skipped[why] = self.skipped.get(why, 0) + 1
        return []

    def _time(self, text: Any, field_name: str, where: Where) -> datetime:
        moment = self._times.get(text) if isinstance(text, str) else None
        if moment is None:
            moment = parse_datetime(text, field_name=field_name, where=where)
            if isinstance(text, str) and len(self._times) < 100_000:
                self._times[text] = moment
        return moment

    def read(self, res: Json, where: Where) -> list[Observation]:
        status = str(res.get("status") or "")
        if status not in USABLE_STATUS:
            return self._skip(f"Observation with status {status}")
        code = res.get("code")
        codes = codes_of(code)
        kinds = {CODE_KINDS[c] for c in codes if c in CODE_KINDS}
        is_panel = bool(codes & terms.BP_PANEL_CODES)
        if not kinds and not is_panel:
            return self._skip("Observation not a NEWS2 parameter")
        effective = (
            res.get("effectiveDateTime") or res.get("effectiveInstant")
            or (res.get("effectivePeriod") or {}).get("start")
        )
        if not effective:
            return self._skip("Observation without an effective time")
        rid = str(res.get("id") or "")
        ref = reference_key(res.get("subject"))
        patient = sys.intern(ref[8:] if ref.startswith("Patient/") else ref)
        when = self._time(effective, "effectiveDateTime", where)
        issued = res.get("issued")
        source = meta_time(res, where) or (
            self._time(issued, "issued", where) if issued else when
        )
        if is_panel:
            found = []
            for index, component in enumerate(dicts(res.get("component"))):
                ckinds = {CODE_KINDS[c] for c in codes_of(component.get("code"))
                          if c in CODE_KINDS}
                for kind in ckinds & {K.SBP, K.DBP}:
                    value = _number(component, f"component[{index}].valueQuantity.value",
                                    rid, where)
                    if value is not None:
                        found.append(Observation(f"{rid}#{kind.value}", patient, kind, when,
                                                 value, "", UNITS[kind], source))
            return found or self._skip("Observation blood pressure without values")
        kind = next(iter(kinds)) if len(kinds) == 1 else sorted(kinds)[0]
        if kind is K.NEWS2_TOTAL:
            for component in dicts(res.get("component")):
                for c in codes_of(component.get("code")):
                    if c in terms.SPO2_SCALE_OF_CODE:
                        self._note_scale(patient, when, terms.SPO2_SCALE_OF_CODE[c])
        if kind is K.ACVPU:
            letter = _acvpu(res)
            if not letter:
                return self._skip("Observation ACVPU with an unrecognised value")
            return [Observation(rid, patient, kind, when, None, letter, "", source)]
        if kind is K.OXYGEN:
            if terms.ROOM_AIR in codes:
                return [Observation(rid, patient, kind, when, None, "A", "", source)]
            value = _number(res, "valueQuantity.value", rid, where)
            return [Observation(rid, patient, kind, when, value, "O2",
                                "%" if value is not None else "", source)]
        value = _number(res, "valueQuantity.value", rid, where)
        if value is None:
            return self._skip("Observation without a value")
        if kind is K.TEMP and (res.get("valueQuantity") or {}).get("code") == terms.FAHRENHEIT:
            value = round((value - 32) * 5 / 9, 1)
        return [Observation(rid, patient, kind, when, value, "", UNITS[kind], source)]

    def _note_scale(self, patient: str, when: datetime, scale: int) -> None:
        known = self.scales.get(patient)
        if known is None or when >= known[0]:
            self.scales[patient] = (when, scale)


def _number(holder: Json, field_name: str, rid: str, where: Where) -> float | None:
    quantity = holder.get("valueQuantity")
    if not isinstance(quantity, dict):
        if "valueInteger" in holder:
            quantity = {"value": holder["valueInteger"]}
        else:
            return None
    value = quantity.get("value")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(
            f"Observation {rid!r}, field {field_name}: {value!r} is not a number",
            where=str(where),
        )
    return float(value)


def _acvpu(res: Json) -> str:
    concept = res.get("valueCodeableConcept")
    return terms.acvpu_letter(codes_of(concept),
                              text_of(concept) or str(res.get("valueString") or ""))
