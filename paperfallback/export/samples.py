"""Synthetic keyed forms for tests, the benchmark and demonstrations.

Only synthetic people: NHS numbers from the reserved 999 range with a valid check digit,
made-up names with Welsh and other non-ASCII letters.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from functools import cache

from paperfallback.domain.nhs_number import check_digit
from paperfallback.domain.terminology import URINE_OUTPUT
from paperfallback.export.model import (
    Code,
    ExportedForm,
    KeyedRow,
    KeyedValue,
    PatientRef,
    ValueState,
)
from paperfallback.formspec import load_catalogue
from paperfallback.formspec.models import FormSpec, repeat_cell_id

FAMILIES = ("Llŷr", "Bowen", "Öztürk", "Jones", "Hérault", "Pryŵ", "Łukasz-Evans", "Davies")
GIVENS = ("Siân", "Gwenllïan", "Émile", "Dafydd", "Zoë", "Rhys", "Ffion", "Jörg")
CLERK = "Clerk Ann Ôwen"


def synthetic_nhs_number(n: int) -> str:
    """The n-th valid NHS number of the test range (999 000 0000 upwards)."""
    base = 999_000_000 + n
    while True:
        digit = check_digit(str(base))
        if digit is not None:
            return f"{base}{digit}"
        base += 1


def synthetic_patient(n: int, *, nhs: bool = True) -> PatientRef:
    return PatientRef(
        nhs_number=synthetic_nhs_number(n * 3) if nhs else None,
        hospital_number=f"RX{100000 + n}",
        family=FAMILIES[n % len(FAMILIES)],
        given=GIVENS[n % len(GIVENS)],
        birth_date=date(1940 + n % 60, 1 + n % 12, 1 + n % 28),
    )


def _value(field_id: str, text: str | None, keyed_at: datetime, *, unit: str = "",
           field_type: str = "number", label: str = "", codes: tuple[Code, ...] = (),
           choice_label: str = "", state: ValueState = ValueState.VALUE) -> KeyedValue:
    return KeyedValue(field_id=field_id, text=text, state=state, label=label or field_id,
                      field_type=field_type, unit=unit, codes=codes,
                      choice_label=choice_label, keyed_by=CLERK, keyed_at=keyed_at)


NEWS2_UNITS = {"resp_rate": "/min", "spo2": "%", "sbp": "mmHg", "dbp": "mmHg",
               "pulse": "/min", "temp": "°C", "o2_flow": "L/min"}


def news2_column(index: int, when: datetime, keyed_at: datetime, *,
                 resp_rate: str = "18", spo2: str = "96", oxygen: str = "A", sbp: str = "120",
                 dbp: str = "70", pulse: str = "80", acvpu: str = "A", temp: str = "37.0",
                 handwritten: str | None = None, spo2_scale: str | None = None,
                 initials: str = "AB") -> KeyedRow:
    """One keyed NEWS2 chart column (naive ``when`` is UK local time, as keyed)."""
    values: dict[str, KeyedValue] = {
        "obs_time": _value("obs_time", when.strftime("%Y-%m-%dT%H:%M"), keyed_at,
                           field_type="datetime"),
    }
    for field_id, text in (("resp_rate", resp_rate), ("spo2", spo2), ("sbp", sbp),
                           ("dbp", dbp), ("pulse", pulse), ("temp", temp)):
        if text:
            values[field_id] = _value(field_id, text, keyed_at, unit=NEWS2_UNITS[field_id])
    if oxygen:
        values["oxygen"] = _value("oxygen", oxygen, keyed_at, field_type="choice",
                                  choice_label="Air" if oxygen == "A" else "Oxygen")
    if acvpu:
        values["acvpu"] = _value("acvpu", acvpu, keyed_at, field_type="choice")
    if spo2_scale:
        values["spo2_scale"] = _value("spo2_scale", spo2_scale, keyed_at, field_type="choice")
    if handwritten is not None:
        values["news2_total"] = _value("news2_total", handwritten, keyed_at)
    if initials:
        values["initials"] = _value("initials", initials, keyed_at, field_type="initials")
    return KeyedRow(section="observations", index=index, values=values)


def news2_form(instance_id: str, patient: PatientRef, columns: list[KeyedRow], *,
               printed_at: datetime | None = None, pc_id: str = "WARD-PC-1",
               site_code: str = "DEMO") -> ExportedForm:
    return ExportedForm(
        instance_id=instance_id, form_id="news2", form_version="1.0",
        form_title="NEWS2 observation chart", patient=patient,
        printed_at=printed_at or datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        pc_id=pc_id, site_code=site_code, rows=tuple(columns), ward="W1",
    )


def random_news2_form(n: int, rng: random.Random, *, columns: int = 4,
                      pc_id: str = "WARD-PC-1") -> ExportedForm:
    """A plausible NEWS2 chart with ``columns`` keyed columns (for the benchmark)."""
    printed = datetime(2026, 11, 20, 8, 0, tzinfo=UTC) + timedelta(minutes=n)
    keyed_at = printed + timedelta(days=2)
    rows = []
    for c in range(columns):
        when = (printed + timedelta(hours=4 * c)).replace(tzinfo=None)
        rows.append(news2_column(
            c, when, keyed_at,
            resp_rate=str(rng.randint(10, 26)), spo2=str(rng.randint(88, 100)),
            oxygen=rng.choice(("A", "A", "O2")), sbp=str(rng.randint(85, 180)),
            dbp=str(rng.randint(50, 100)), pulse=str(rng.randint(45, 130)),
            acvpu=rng.choice("AAAAC"), temp=f"{rng.uniform(35.0, 39.5):.1f}",
            handwritten=str(rng.randint(0, 9)) if rng.random() < 0.5 else None,
        ))
    return news2_form(f"N{n:06d}X", synthetic_patient(n), rows, printed_at=printed,
                      pc_id=pc_id)


def keyed_row(section: str, index: int, values: dict[str, str], *,
              keyed_at: datetime | None = None, patient: PatientRef | None = None,
              source_ref: str = "", context: dict[str, str] | None = None,
              types: dict[str, str] | None = None, units: dict[str, str] | None = None,
              codes: dict[str, tuple[Code, ...]] | None = None,
              states: dict[str, ValueState] | None = None) -> KeyedRow:
    """A row of any form from plain texts (for tests of the other builders)."""
    moment = keyed_at or datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    out = {
        field_id: _value(field_id, text, moment, unit=(units or {}).get(field_id, ""),
                         field_type=(types or {}).get(field_id, "text"),
                         codes=(codes or {}).get(field_id, ()),
                         state=(states or {}).get(field_id, ValueState.VALUE))
        for field_id, text in values.items()
    }
    return KeyedRow(section=section, index=index, values=out, patient=patient,
                    source_ref=source_ref, context=context or {})


def keyed_form(form_id: str, instance_id: str, rows: list[KeyedRow], *,
               patient: PatientRef | None = None, title: str = "",
               form_date: date | None = None, pc_id: str = "WARD-PC-1") -> ExportedForm:
    return ExportedForm(
        instance_id=instance_id, form_id=form_id, form_version="1.0",
        form_title=title or form_id, patient=patient,
        printed_at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC), pc_id=pc_id,
        site_code="DEMO", rows=tuple(rows), form_date=form_date,
    )


@cache
def _bundled_mar() -> FormSpec:
    return load_catalogue().get("mar")


def random_mar_form(n: int, rng: random.Random, *, pc_id: str = "WARD-PC-1") -> ExportedForm:
    """A MAR with four regular medicines keyed for two days and one PRN dose (the
    bundled MAR's sections and fields found by what they declare, not by their ids)."""
    mar = _bundled_mar()
    regular, prn = (next(s.id for s in mar.sections if mar.medicines(s.id) == kind)
                    for kind in ("scheduled", "as-required"))

    def role(section: str, name: str, n: int = 0) -> str:
        spec = mar.role_field(name, section)
        assert spec is not None, f"forms/mar.yaml declares no {name} in {section}"
        return repeat_cell_id(spec.id, n) if n else spec.id

    printed = datetime(2026, 11, 20, 8, 0, tzinfo=UTC) + timedelta(minutes=n)
    keyed_at = printed + timedelta(days=3)
    day_1 = printed.date()
    context = {f"day_{d}": (day_1 + timedelta(days=d - 1)).isoformat() for d in range(1, 8)}
    rows = []
    for r, (drug, time_text) in enumerate((("Amoxicillin 500mg capsules", "08:00"),
                                           ("Ramipril 5mg tablets", "09:00"),
                                           ("Enoxaparin 40mg/0.4ml injection", "18:00"),
                                           ("Paracetamol 1g tablets", "12:00"))):
        given = {role(regular, "dose_time"): time_text,
                 role(regular, "administration", 1): rng.choice(("AB", "CD", "2")),
                 role(regular, "administration", 2): "EF"}
        rows.append(keyed_row(regular, r, given, keyed_at=keyed_at,
                              source_ref=f"rx-{n}-{r}",
                              context={**context, "drug": drug, "dose": "1", "route": "Oral"}))
    when = role(prn, "administered_at", 1)
    rows.append(keyed_row(
        prn, 0, {when: (printed + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M"),
                 role(prn, "dose_given", 1): "1 g", role(prn, "performer", 1): "GH"},
        keyed_at=keyed_at, source_ref=f"rx-{n}-p", types={when: "datetime"},
        context={"drug": "Paracetamol 1g tablets", "route": "Oral"}))
    return keyed_form("mar", f"M{n:06d}X", rows, patient=synthetic_patient(n), pc_id=pc_id)


def random_fluid_form(n: int, rng: random.Random, *, pc_id: str = "WARD-PC-1") -> ExportedForm:
    """A fluid balance chart with eight hours keyed."""
    hours = ["07:00", "08:00", "09:00", "10:00", "11:00", "12:00", "13:00", "14:00"]
    rows = [keyed_row("day", 0, {"fb_date": "2026-11-20"}, types={"fb_date": "date"})]
    for i, hour in enumerate(hours):
        rows.append(keyed_row(
            "hours", i, {"in_oral": str(rng.randint(0, 300)), "out_urine": str(rng.randint(0, 200)),
                         "fb_initials": "JK"},
            context={"time_point": hour}, units={"in_oral": "ml", "out_urine": "ml"},
            types={"in_oral": "number", "out_urine": "number"},
            codes={"out_urine": (URINE_OUTPUT,)},
        ))
    return keyed_form("fluid-balance", f"F{n:06d}X", rows, patient=synthetic_patient(n),
                      pc_id=pc_id)


def random_notes_form(n: int, rng: random.Random, *, pc_id: str = "WARD-PC-1") -> ExportedForm:
    """A continuation sheet with one keyed note (exported as a QuestionnaireResponse)."""
    rows = [keyed_row("notes", 0, {"note_time": "2026-11-20T11:00",
                                   "note_text": rng.choice(("Reviewed on ward round.",
                                                            "Family updated by phone.")),
                                   "note_signed": "Dr Öztürk"},
                      types={"note_time": "datetime"})]
    return keyed_form("continuation", f"C{n:06d}X", rows, patient=synthetic_patient(n),
                      pc_id=pc_id)


def random_form(n: int, rng: random.Random, *, pc_id: str = "WARD-PC-1") -> ExportedForm:
    """A mix like a ward's return after an outage: half NEWS2 charts (3 columns keyed),
    a quarter MARs, fluid balance charts and continuation notes."""
    pick = n % 20
    if pick < 10:
        return random_news2_form(n, rng, columns=3, pc_id=pc_id)
    if pick < 15:
        return random_mar_form(n, rng, pc_id=pc_id)
    if pick < 18:
        return random_fluid_form(n, rng, pc_id=pc_id)
    return random_notes_form(n, rng, pc_id=pc_id)
