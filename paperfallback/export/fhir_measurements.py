"""Sections declared ``export: observation``: an Observation per keyed value.

Nothing here knows a form: the definition says when each row happened (a field with the
role ``observation_time``, or a printed ``time_point`` on the day of the ``chart_date``
field), who did it (``performer``) and which figures are only running totals carried by
hand (``running_total``: check figures, not readings). A section with no time of its own
(the fluid balance 24-hour totals) covers the whole chart day. So the fluid balance chart
and a site's pressure-area chart are exported by the same code.

Every other keyed value of such a section becomes an Observation, coded by the field's
``code`` (LOINC / SNOMED CT) or else by a local code naming the form and field; numbers
carry their unit, choices their coding and label, anything else its text. Illegible
values say so (dataAbsentReason), so no keyed value is lost on the way to the EPR.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from paperfallback.cache.staleness import UK
from paperfallback.export.fhir_common import (
    data_absent,
    entry_id,
    field_concept,
    identified,
    quantity,
)
from paperfallback.export.fhir_units import (
    BuiltUnit,
    FormContext,
    new_unit,
    questionnaire_rows,
    row_time,
    subject_of,
    where,
)
from paperfallback.export.model import KeyedRow, KeyedValue, ValueState, fhir_datetime
from paperfallback.formspec import ChartSection, FormSpec

# Roles that say when and who, or are derived: not readings of their own.
NOT_READINGS = frozenset(
    {"observation_time", "time_point", "chart_date", "performer", "running_total"}
)


def observation_units(ctx: FormContext, rows: list[KeyedRow]) -> list[BuiltUnit]:
    """The units of the rows of ``observation`` sections of ``ctx.form``."""
    spec = ctx.form.definition
    assert spec is not None  # only a definition declares an observation section
    day_field = spec.role_field("chart_date")
    day_section = next((s.id for s, f in spec.fields() if f is day_field), None)
    day_rows = [r for r in ctx.form.rows if r.section == day_section]
    chart_day = _chart_day(day_rows, day_field.id if day_field else "")
    starts_at = day_start(spec)
    units: list[BuiltUnit] = []
    other: list[KeyedRow] = []
    for row in rows:
        roles = spec.roles(row.section)
        timed = "observation_time" in roles or "time_point" in roles
        if not timed and chart_day is None:
            other.append(row)  # a period with no day: goes out as written
            continue
        unit = new_unit(ctx, row.key, [row], depends=[] if row in day_rows else day_rows)
        units.append(unit)
        skip = {fid for role, fid in roles.items() if role in NOT_READINGS}
        skip |= {f.id for _s, f in spec.fields() if f.role == "running_total"}
        values = [v for v in row.values.values()
                  if v.field_id not in skip and (v.has_value or
                                                 v.state is ValueState.ILLEGIBLE)]
        if not values:
            continue
        subject = subject_of(ctx, row, unit)
        if subject is None:
            continue
        when: dict[str, Any] = {}
        if "observation_time" in roles:
            moment = row_time(ctx, row, roles["observation_time"], unit)
            if moment is not None:
                when = {"effectiveDateTime": fhir_datetime(moment)}
        elif "time_point" in roles:
            moment = _time_point(ctx, row, roles["time_point"], chart_day, starts_at,
                                 day_field.id if day_field else "chart_date", unit)
            if moment is not None:
                when = {"effectiveDateTime": fhir_datetime(moment)}
        else:
            assert chart_day is not None
            start = datetime.combine(chart_day, starts_at, tzinfo=UK)
            when = {"effectivePeriod": {"start": fhir_datetime(start),
                                        "end": fhir_datetime(start + timedelta(days=1))}}
        if not when:
            continue
        initials = row.text(roles["performer"]) if "performer" in roles else ""
        for value in values:
            resource = _measurement(ctx, value, subject, initials)
            resource.update(when)
            unit.entries.append(identified(
                resource, ctx.systems,
                entry_id(ctx.form.instance_id, value.field_id, row.index),
            ))
    return units + questionnaire_rows(ctx, other)


def _chart_day(day_rows: list[KeyedRow], field_id: str) -> date | None:
    chart_day: date | None = None
    for row in day_rows:
        if field_id and row.text(field_id):
            try:
                chart_day = date.fromisoformat(row.text(field_id)[:10])
            except ValueError:
                chart_day = None
    return chart_day


def day_start(spec: FormSpec) -> time:
    """When a chart day begins: its first printed time point (07:00), else midnight."""
    for section in spec.sections:
        if isinstance(section, ChartSection) and section.time_points:
            match = re.fullmatch(r"(\d{1,2}):(\d{2})", section.time_points[0])
            if match:
                return time(int(match.group(1)), int(match.group(2)))
    return time(0, 0)


def _time_point(
    ctx: FormContext, row: KeyedRow, field_id: str, chart_day: date | None, day_start: time,
    day_field: str, unit: BuiltUnit,
) -> datetime | None:
    label = row.text(field_id) or row.context.get("time_point", "")
    if chart_day is None or not re.fullmatch(r"\d{1,2}:\d{2}", label):
        unit.problems.append(
            f"{where(ctx, row)}: the chart date ({day_field}) or the hour is not keyed"
        )
        return None
    hours, minutes = (int(p) for p in label.split(":"))
    moment = time(hours, minutes)
    day = chart_day + timedelta(days=1) if moment < day_start else chart_day  # 07:00-06:00
    return datetime.combine(day, moment, tzinfo=UK)


def _measurement(
    ctx: FormContext, value: KeyedValue, subject: dict[str, Any], initials: str
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": field_concept(value, ctx.systems, ctx.form.form_id),
        "subject": subject,
    }
    number = value.number()
    if not value.has_value:
        resource["dataAbsentReason"] = data_absent()
    elif value.field_type == "number" and number is not None:
        resource["valueQuantity"] = quantity(number, value.unit, value.text)
    elif value.field_type == "choice":
        coding = [{"system": c.system, "code": c.code, "display": c.display}
                  for c in value.choice_codes]
        resource["valueCodeableConcept"] = {
            **({"coding": coding} if coding else {}),
            "text": value.choice_label or value.text or "",
        }
    else:
        resource["valueString"] = value.text or ""
    if initials:
        resource["performer"] = [{"display": f"Initials on the paper chart: {initials}"}]
    return resource
