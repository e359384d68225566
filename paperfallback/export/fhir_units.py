"""What every form builder shares: units of export, the form context, the patient
reference of a row, times, and QuestionnaireResponse for whatever has no better home.

A *unit* is what one export marks as done: a chart column, a table row, or a whole
registration. It carries its resources, or the problems that stop it being exported.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.export.fhir_common import (
    BuiltEntry,
    SiteSystems,
    identified,
    patient_reference,
    quantity,
)
from paperfallback.export.model import (
    ExportedForm,
    KeyedRow,
    KeyedValue,
    ValueState,
    fhir_datetime,
    parse_when,
    row_fingerprint,
)

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass
class BuiltUnit:
    """What one unit of keying (column, row, registration) exports as."""

    key: str  # '<instance>/<section>/<n>': what the export state marks as done
    instance_id: str
    fingerprint: str
    entries: list[BuiltEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def exportable(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class FormContext:
    form: ExportedForm
    systems: SiteSystems
    keyed_on: str  # the PC whose work store the values were keyed into (the exporting PC)
    fingerprints: Mapping[str, str] = field(default_factory=dict)  # row key -> fingerprint


def new_unit(
    ctx: FormContext, key: str, rows: Iterable[KeyedRow], depends: Iterable[KeyedRow] = ()
) -> BuiltUnit:
    known = ctx.fingerprints
    parts = [known.get(r.key) or row_fingerprint(ctx.form, r) for r in (*rows, *depends)]
    return BuiltUnit(
        key=f"{ctx.form.instance_id}/{key}",
        instance_id=ctx.form.instance_id,
        fingerprint="-".join(parts) if len(parts) == 1 else short_hash(parts),
    )


def short_hash(parts: list[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def subject_of(ctx: FormContext, row: KeyedRow, unit: BuiltUnit) -> dict[str, Any] | None:
    patient = ctx.form.patient_for(row)
    if patient is None or not patient.is_identified:
        unit.problems.append(
            f"{where(ctx, row)}: no NHS number, hospital number or downtime number for the "
            "patient, so it cannot be attached to a record"
        )
        return None
    return patient_reference(patient, ctx.systems)


def where(ctx: FormContext, row: KeyedRow) -> str:
    return f"form {ctx.form.instance_id} ({ctx.form.form_id}) {row.section} {row.index + 1}"


def rows_of(ctx: FormContext, section: str) -> list[KeyedRow]:
    return [r for r in ctx.form.rows if r.section == section]


def row_time(ctx: FormContext, row: KeyedRow, field_id: str, unit: BuiltUnit) -> datetime | None:
    value = row.get(field_id)
    if value is None or not value.has_value:
        unit.problems.append(f"{where(ctx, row)}: no date and time keyed ({field_id})")
        return None
    try:
        return parse_when(value.text or "", default_day=ctx.form.printed_at.astimezone(UK).date())
    except InputError as exc:
        unit.problems.append(f"{where(ctx, row)}: {exc}")
        return None


def keyed_at(ctx: FormContext, rows: Iterable[KeyedRow]) -> datetime:
    times = [r.keyed_at for r in rows if r.keyed_at is not None]
    return max(times) if times else ctx.form.printed_at


def fhir_id_reference(kind: str, ref: str, display: str = "") -> dict[str, Any]:
    """A literal reference to the EPR's record when the cache kept a FHIR id, else a
    display-only reference (never a guessed id)."""
    if ref and FHIR_ID.match(ref):
        out: dict[str, Any] = {"reference": f"{kind}/{ref}"}
        if display:
            out["display"] = display
        return out
    return {"display": display or f"{kind} {ref}".strip()}


def questionnaire_rows(ctx: FormContext, rows: Iterable[KeyedRow]) -> list[BuiltUnit]:
    """One QuestionnaireResponse per row that holds a value."""
    units = []
    for row in rows:
        if not any(v.has_value or v.state is ValueState.ILLEGIBLE for v in row.values.values()):
            continue
        units.append(questionnaire_fallback(ctx, row, new_unit(ctx, row.key, [row])))
    return units


def questionnaire_fallback(ctx: FormContext, row: KeyedRow, unit: BuiltUnit) -> BuiltUnit:
    if not any(v.has_value or v.state is ValueState.ILLEGIBLE for v in row.values.values()):
        return unit
    subject = subject_of(ctx, row, unit)
    if subject is not None:
        unit.entries.append(questionnaire(ctx, [row], subject, unit))
    return unit


def questionnaire(
    ctx: FormContext, rows: list[KeyedRow], subject: dict[str, Any], unit: BuiltUnit
) -> BuiltEntry:
    form = ctx.form
    keyed_by = sorted({c for r in rows for c in r.keyed_by})
    groups: list[dict[str, Any]] = []
    for row in rows:
        items = [answer_item(ctx, v) for v in row.values.values()]
        groups.append({"linkId": row.key, "text": f"{row.section} {row.index + 1}",
                       "item": sorted(items, key=lambda i: str(i["linkId"]))})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{ctx.systems.questionnaire}/{form.form_id}|{form.form_version}",
        "status": "completed",
        "subject": subject,
        "authored": fhir_datetime(keyed_at(ctx, rows)),
        "item": groups,
    }
    if keyed_by:
        resource["author"] = {"display": f"Keyed from paper by {', '.join(keyed_by)}"}
    key = unit.key.split("/", 1)[1]
    built = identified(resource, ctx.systems,
                       f"{form.instance_id}/questionnaire/{key.replace('/', '-')}")
    # QuestionnaireResponse.identifier is a single Identifier in R4, not a list.
    built.resource["identifier"] = built.resource["identifier"][0]
    return built


def answer_item(ctx: FormContext, value: KeyedValue) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": value.field_id, "text": value.label or value.field_id}
    if value.state is ValueState.ILLEGIBLE:
        item["answer"] = [{"valueString": "[illegible on the paper form]"}]
        return item
    if value.state is ValueState.NOT_RECORDED or not value.text:
        item["answer"] = [{"valueString": "[not recorded on the paper form]"}]
        return item
    text = value.text
    answer: dict[str, Any]
    number = value.number()
    if value.field_type == "number" and number is not None:
        answer = {"valueQuantity": quantity(number, value.unit, text)} if value.unit else {
            "valueDecimal": number}
    elif value.field_type == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        answer = {"valueDate": text}
    elif value.field_type == "datetime":
        try:
            answer = {"valueDateTime": fhir_datetime(parse_when(text))}
        except InputError:
            answer = {"valueString": text}
    elif value.field_type == "time" and re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", text):
        answer = {"valueTime": text if len(text) == 8 else f"{text}:00"}
    elif value.field_type == "choice":
        codes = value.choice_codes
        answer = {"valueCoding": {
            "system": codes[0].system if codes else ctx.systems.field_code,
            "code": codes[0].code if codes else f"{ctx.form.form_id}/{value.field_id}/{text}",
            "display": value.choice_label or text,
        }}
    else:
        answer = {"valueString": text}
    item["answer"] = [answer]
    return item
