"""Chart sections declared ``export: news2-vital-signs``: each column's NEWS2 Observations
(fhir_news2).

Other charts (fluid balance, site charts) are ``export: observation`` sections
(fhir_measurements)."""

from __future__ import annotations

from paperfallback.export.fhir_news2 import news2_column
from paperfallback.export.fhir_units import (
    BuiltUnit,
    FormContext,
    new_unit,
    row_time,
    subject_of,
    where,
)
from paperfallback.export.model import (
    KeyedRow,
)


def news2_units(ctx: FormContext, rows: list[KeyedRow]) -> list[BuiltUnit]:
    """One unit per keyed column; its time is the field the section declares
    ``observation_time``."""
    units: list[BuiltUnit] = []
    for row in rows:
        unit = new_unit(ctx, row.key, [row])
        units.append(unit)
        subject = subject_of(ctx, row, unit)
        when = row_time(ctx, row, ctx.form.role_field(row, "observation_time") or "", unit)
        if subject is None or when is None:
            continue
        column = news2_column(ctx.form, row, subject=subject, effective=when,
                              systems=ctx.systems, update=False)
        unit.entries.extend(column.entries)
        unit.problems.extend(f"{where(ctx, row)}: {p}" for p in column.problems)
    return units
