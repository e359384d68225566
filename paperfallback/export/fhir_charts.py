"""Chart forms: NEWS2 columns (see fhir_news2) and fluid balance hours as Observations."""

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
from paperfallback.export.fhir_news2 import news2_column
from paperfallback.export.fhir_units import (
    BuiltUnit,
    FormContext,
    new_unit,
    questionnaire_rows,
    row_time,
    rows_of,
    subject_of,
    where,
)
from paperfallback.export.model import (
    KeyedRow,
    KeyedValue,
    ValueState,
    fhir_datetime,
)

FLUID_SKIP = {"fb_hour", "in_running", "out_running", "balance_running", "fb_initials"}


def news2_units(ctx: FormContext) -> list[BuiltUnit]:
    units: list[BuiltUnit] = []
    other: list[KeyedRow] = []
    for row in ctx.form.rows:
        if row.section != "observations":
            other.append(row)
            continue
        unit = new_unit(ctx, row.key, [row])
        units.append(unit)
        subject = subject_of(ctx, row, unit)
        when = row_time(ctx, row, "obs_time", unit)
        if subject is None or when is None:
            continue
        column = news2_column(ctx.form, row, subject=subject, effective=when,
                              systems=ctx.systems, update=False)
        unit.entries.extend(column.entries)
        unit.problems.extend(f"{where(ctx, row)}: {p}" for p in column.problems)
    return units + questionnaire_rows(ctx, other)


def fluid_units(ctx: FormContext) -> list[BuiltUnit]:
    day_rows = rows_of(ctx, "day")
    chart_day: date | None = None
    for row in day_rows:
        if row.text("fb_date"):
            try:
                chart_day = date.fromisoformat(row.text("fb_date")[:10])
            except ValueError:
                chart_day = None
    units: list[BuiltUnit] = []
    other: list[KeyedRow] = []
    for row in ctx.form.rows:
        if row.section == "hours":
            unit = new_unit(ctx, row.key, [row], depends=day_rows)
            units.append(unit)
            values = [v for v in row.values.values()
                      if v.field_id not in FLUID_SKIP and (v.has_value or
                                                           v.state is ValueState.ILLEGIBLE)]
            if not values:
                continue
            subject = subject_of(ctx, row, unit)
            when = _fluid_hour(ctx, row, chart_day, unit)
            if subject is None or when is None:
                continue
            initials = row.text("fb_initials")
            for value in values:
                resource = _measurement(ctx, value, subject, initials)
                resource["effectiveDateTime"] = fhir_datetime(when)
                unit.entries.append(identified(
                    resource, ctx.systems,
                    entry_id(ctx.form.instance_id, value.field_id, row.index),
                ))
        elif row.section == "totals" and chart_day is not None:
            unit = new_unit(ctx, row.key, [row], depends=day_rows)
            units.append(unit)
            subject = subject_of(ctx, row, unit)
            if subject is None:
                continue
            start = datetime.combine(chart_day, time(7, 0), tzinfo=UK)
            period = {"start": fhir_datetime(start),
                      "end": fhir_datetime(start + timedelta(days=1))}
            checked = row.text("totals_initials")
            for value in row.values.values():
                if value.field_id == "totals_initials" or not value.has_value:
                    continue
                resource = _measurement(ctx, value, subject, checked)
                resource["effectivePeriod"] = period
                unit.entries.append(identified(
                    resource, ctx.systems,
                    entry_id(ctx.form.instance_id, value.field_id, row.index),
                ))
        else:
            other.append(row)
    return units + questionnaire_rows(ctx, other)


def _fluid_hour(
    ctx: FormContext, row: KeyedRow, chart_day: date | None, unit: BuiltUnit
) -> datetime | None:
    label = row.text("fb_hour") or row.context.get("time_point", "")
    if chart_day is None or not re.fullmatch(r"\d{1,2}:\d{2}", label):
        unit.problems.append(
            f"{where(ctx, row)}: the chart date (fb_date) or the hour is not keyed"
        )
        return None
    hours, minutes = (int(p) for p in label.split(":"))
    day = chart_day + timedelta(days=1) if hours < 7 else chart_day  # the chart runs 07:00-06:00
    return datetime.combine(day, time(hours, minutes), tzinfo=UK)


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
    if number is None:
        resource["dataAbsentReason"] = data_absent()
    else:
        resource["valueQuantity"] = quantity(number, value.unit, value.text)
    if initials:
        resource["performer"] = [{"display": f"Initials on the paper chart: {initials}"}]
    return resource
