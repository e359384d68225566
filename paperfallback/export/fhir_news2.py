"""NEWS2 chart columns as UK Core Observations, modelled on the UK Core example bundle
``UKCore-Bundle-NEWS2Observations-Example.json``.

Per column: one vital-signs Observation per parameter (SNOMED CT + LOINC codings as the
example gives them, UCUM units), blood pressure as one panel with systolic and diastolic
components, air or oxygen as a coded Observation, ACVPU as a survey Observation with a
SNOMED value, and the NEWS2 total (SNOMED 1104051000000101, category survey) computed
here from the keyed parameters by :func:`paperfallback.domain.news2.score` (RCP NEWS2
2017, chart 1), with its component scores and ``derivedFrom`` links to the parameter
Observations. The handwritten total is never lost: where it differs from the computed
one it is kept in the total's ``note`` (and in the spreadsheets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from paperfallback.domain import terminology as terms
from paperfallback.domain.news2_input import TOTAL, News2Input, field_of, news2_input
from paperfallback.export.fhir_common import (
    BuiltEntry,
    SiteSystems,
    category,
    concept,
    data_absent,
    decimal_value,
    entry_id,
    identified,
    merged_codes,
)
from paperfallback.export.model import (
    Code,
    ExportedForm,
    KeyedRow,
    KeyedValue,
    ValueState,
    fhir_datetime,
    news2_values,
)

SCORE_UNIT = terms.SCORE_UNIT.quantity()
VITAL_UNITS: dict[str, dict[str, str]] = {
    parameter: unit.quantity() for parameter, unit in terms.PARAMETER_UNITS.items()}


@dataclass
class ColumnBuild:
    """What one chart column produced, and what could not be exported from it."""

    entries: list[BuiltEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def news2_column(
    form: ExportedForm,
    row: KeyedRow,
    *,
    subject: dict[str, Any],
    effective: datetime,
    systems: SiteSystems,
    update: bool,
) -> ColumnBuild:
    """The Observations of one NEWS2 chart column."""
    out = ColumnBuild()
    when = fhir_datetime(effective)
    initials = row.text("initials")
    parameter_urls: list[str] = []

    def observation(key: str, body: dict[str, Any]) -> BuiltEntry:
        resource: dict[str, Any] = {"resourceType": "Observation", "status": "final"}
        resource.update(body)
        resource["subject"] = subject
        resource["effectiveDateTime"] = when
        if initials:
            resource["performer"] = [{"display": f"Initials on the paper chart: {initials}"}]
        built = identified(resource, systems, entry_id(form.instance_id, key, row.index),
                           update=update)
        out.entries.append(built)
        return built

    def vital(field_id: str, value: KeyedValue) -> dict[str, Any]:
        body: dict[str, Any] = {
            "category": category("vital-signs", "Vital Signs"),
            "code": _vital_concept(field_id, value.codes),
        }
        number = value.number()
        if value.state is ValueState.ILLEGIBLE or number is None:
            body["dataAbsentReason"] = data_absent()
        else:
            body["valueQuantity"] = {"value": decimal_value(number, value.text),
                                     **VITAL_UNITS[field_id]}
        return body

    # Keys here are NEWS2 parameters; the form's field for each is the one declaring it.
    for field_id in ("resp_rate", "spo2", "pulse", "temp", "o2_flow"):
        value = row.get(_field(form, row, field_id))
        if value is None or not _exportable(value):
            continue
        body = vital(field_id, value)
        if field_id == "spo2":
            scale = _input(form, row).scale
            body["note"] = [{"text": f"SpO2 scale {scale} (RCP NEWS2 2017)"}]
        built = observation(field_id, body)
        if field_id != "o2_flow":
            parameter_urls.append(built.full_url)

    sbp, dbp = row.get(_field(form, row, "sbp")), row.get(_field(form, row, "dbp"))
    components = []
    for field_id, value in (("sbp", sbp), ("dbp", dbp)):
        if value is None or not _exportable(value):
            continue
        component: dict[str, Any] = {"code": _vital_concept(field_id, value.codes)}
        number = value.number()
        if number is None:
            component["dataAbsentReason"] = data_absent()
        else:
            component["valueQuantity"] = {"value": decimal_value(number, value.text),
                                          **VITAL_UNITS[field_id]}
        components.append(component)
    if components:
        built = observation("bp", {
            "category": category("vital-signs", "Vital Signs"),
            "code": _vital_concept("bp", ()),
            "component": components,
        })
        parameter_urls.append(built.full_url)

    oxygen = row.get(_field(form, row, "oxygen"))
    if oxygen is not None and oxygen.has_value:
        code = terms.AIR_OR_OXYGEN.get((oxygen.text or "").upper())
        if code is None:
            out.problems.append(f"air or oxygen {oxygen.text!r} is neither A nor O2")
        else:
            body = {"code": concept(merged_codes([code], oxygen.choice_codes))}
            device = row.text("o2_device")
            if device:
                body["note"] = [{"text": f"Oxygen device: {device}"}]
            parameter_urls.append(observation("oxygen", body).full_url)

    acvpu = row.get(_field(form, row, "acvpu"))
    if acvpu is not None and _exportable(acvpu):
        body = {
            "category": category("survey", "Survey"),
            "code": concept(merged_codes(terms.VITAL_CODES["acvpu"], acvpu.codes)),
        }
        value_code = terms.ACVPU_VALUES.get((acvpu.text or "").upper())
        if acvpu.state is ValueState.ILLEGIBLE or value_code is None:
            body["dataAbsentReason"] = data_absent()
        else:
            body["valueCodeableConcept"] = concept(
                merged_codes([value_code], acvpu.choice_codes)
            )
        parameter_urls.append(observation("acvpu", body).full_url)

    total = _total(form, row, parameter_urls)
    if total is not None:
        observation("news2_total", total)
    return out


def _total(form: ExportedForm, row: KeyedRow,
           parameter_urls: list[str]) -> dict[str, Any] | None:
    """The NEWS2 total: computed where every parameter was keyed, else the handwritten
    total as written (said so in a note). None when neither exists."""
    handwritten = row.get(_field(form, row, TOTAL))
    written = handwritten.number() if handwritten is not None else None
    notes: list[str] = []
    body: dict[str, Any] = {
        "category": category("survey", "Survey"),
        "code": concept([terms.NEWS2_TOTAL]),
    }
    built = _input(form, row)
    missing = list(built.missing)
    computed = built.score
    if computed is not None:
        body["valueQuantity"] = {"value": computed.total, **SCORE_UNIT}
        body["derivedFrom"] = [{"reference": url} for url in parameter_urls]
        order = ("resp_rate", "pulse", "spo2", "oxygen", "temp", "sbp", "acvpu")
        body["component"] = [
            {
                "code": concept([terms.SPO2_SCALE_SCORE[built.scale] if p == "spo2"
                                 else terms.COMPONENT_CODES[p]]),
                "valueQuantity": {"value": computed.components[p], **SCORE_UNIT},
            }
            for p in order
        ]
        notes.append(
            f"Computed by PaperFallback from the keyed parameters (RCP NEWS2 2017, chart 1; "
            f"SpO2 scale {built.scale}): {computed.total}, clinical risk {computed.risk}."
        )
        if written is not None and int(written) != computed.total:
            notes.append(
                f"DISCREPANCY: the total handwritten on the paper chart was {_num(written)}, "
                f"but the keyed observations score {computed.total}."
            )
        elif handwritten is not None and handwritten.state is ValueState.ILLEGIBLE:
            notes.append("The handwritten total on the paper chart is illegible.")
    elif written is not None:
        body["valueQuantity"] = {"value": _num(written), **SCORE_UNIT}
        if parameter_urls:
            body["derivedFrom"] = [{"reference": url} for url in parameter_urls]
        notes.append(
            "Total as handwritten on the paper chart; not recomputed because "
            f"{', '.join(missing)} {'was' if len(missing) == 1 else 'were'} not keyed."
        )
    else:
        return None
    extra = [
        f"{label}: {row.text(field_id)}"
        for field_id, label in (("monitoring_frequency", "Monitoring frequency"),
                                ("escalation", "Escalation of care"))
        if row.text(field_id)
    ]
    if extra:
        notes.append("; ".join(extra) + " (as written on the paper chart).")
    body["note"] = [{"text": text} for text in notes]
    return body


def _field(form: ExportedForm, row: KeyedRow, parameter: str) -> str:
    """The row's field declaring a NEWS2 parameter (role ``news2.<parameter>`` in the
    form definition), else the bundled chart's field id for it."""
    role = "news2.total" if parameter == TOTAL else f"news2.{parameter}"
    return form.role_field(row, role) or field_of(parameter)


def _input(form: ExportedForm, row: KeyedRow) -> News2Input:
    """The column's NEWS2 input (paperfallback.domain.news2_input), fields by role."""
    spec = form.definition
    values = news2_values(row)
    if spec is not None:
        values = spec.news2_values(row.section, values)
    return news2_input(values, printed_scale=form.spo2_scale)


@lru_cache(maxsize=256)
def _vital_concept(field_id: str, extra: tuple[Code, ...]) -> dict[str, Any]:
    """The UK Core codes of a parameter plus any the form adds (shared: never mutate)."""
    out = concept(merged_codes(terms.VITAL_CODES[field_id], extra))
    if field_id == "pulse":  # as the example: pulse rate is the reading taken
        out["coding"][1]["userSelected"] = True
    return out


def _exportable(value: KeyedValue) -> bool:
    return value.has_value or value.state is ValueState.ILLEGIBLE


def _num(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


