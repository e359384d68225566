"""The MAR's keyed structure mirrors the paper, from print to FHIR: a prescription with
three dose times is printed as three sub-rows, registered as three rows, laid out as
three workbook rows, keyed, imported and exported as one MedicationAdministration per
dose per day at the printed date and dose time; a blank MAR's handwritten column dates
are keyed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from openpyxl import load_workbook

from paperfallback.cache.staleness import UK
from paperfallback.cache.store import CacheStore
from paperfallback.export.pipeline import run_export
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.printed import issued_layout
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workbook import build_workbook
from paperfallback.reentry.workbook_import import import_workbook
from paperfallback.register import IssuedForm, Register
from paperfallback.render.pack import PackRequest, render_pack
from paperfallback.settings import Settings
from paperfallback.workstore import WorkStore

KEY = os.environ.get("PAPERFALLBACK_KEY", "test-key-not-secret")
FORMS = load_catalogue()
MAR = FORMS.get("mar")


def _print_mar(data_dir: Path, now: datetime) -> IssuedForm:
    settings = Settings.load(data_dir)
    with CacheStore.open(data_dir, KEY) as cache:
        conn = WorkStore.open(data_dir, KEY)
        try:
            register = Register(conn, pc_code="T1")
            result = render_pack(PackRequest(patient_ids=("RM100001",), forms=("mar",)),
                                 cache, FORMS, settings, out=data_dir / "mar.pdf",
                                 allocate_ids=register, now=now)
            register.record(result.issued)
        finally:
            conn.close()
    (mar,) = result.issued
    return mar


def _import(data_dir: Path, path: Path) -> Any:
    conn = WorkStore.open(data_dir, KEY)
    try:
        with CacheStore.open(data_dir, KEY) as cache:
            return import_workbook(path, catalogue=FORMS, lookup=Register(conn, pc_code="T1").get,
                                   store=EntriesStore(conn), clerk="Siân", cache=cache)
    finally:
        conn.close()


def _validated_bundle(path: Path) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    for entry in bundle.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return bundle


def test_three_dose_times_are_three_keyed_rows_and_three_administrations_a_day(
    sample_data_dir: Path, tmp_path: Path,
) -> None:
    printed = datetime.now(UTC) - timedelta(days=5)
    mar = _print_mar(sample_data_dir, printed)
    # The register: one row per printed dose-time sub-row of Amoxicillin (rx1).
    assert [r for r in mar.rows if r.startswith("regular:rx1")] == [
        "regular:rx1@08:00", "regular:rx1@14:00", "regular:rx1@22:00"]
    day1 = printed.astimezone(UK).date()
    dates = [day1 + timedelta(days=n) for n in range(7)]
    assert mar.extra["dates:regular"] == ",".join(d.isoformat() for d in dates)
    layout = issued_layout(MAR, mar)
    # Dates are printed: keyed only where a nurse crossed one out and wrote another.
    assert layout.section("regular.days").fields[1].label == (
        f"Date of the day column 2 (printed {dates[1]:%a %d-%b-%Y}: key only if changed "
        "by hand)")
    assert layout.section("regular").index_label(1) == "row 2 (dose time 14:00)"
    # The workbook: three rows for it, each saying which dose it is.
    out = tmp_path / "mar.xlsx"
    with CacheStore.open(sample_data_dir, KEY) as cache:
        build_workbook(MAR, [mar], out, cache=cache)
    wb = load_workbook(out)
    ws = wb["mar.regular"]
    header = [c.value for c in ws[1]]
    printed_col = header.index("row_printed")
    rows = {r[printed_col].value: r[0].row for r in ws.iter_rows(min_row=3)
            if r[printed_col].value and "Amoxicillin" in r[printed_col].value}
    assert sorted(rows) == [f"Amoxicillin 500 mg oral at {t}" for t in ("08:00", "14:00",
                                                                         "22:00")]
    # The nurse crossed out day 3's printed date and wrote the day after.
    ws_days = wb["mar.regular.days"]
    days_header = [c.value for c in ws_days[1]]
    moved = dates[3]
    ws_days.cell(row=3, column=days_header.index("day_date_3") + 1, value=moved)
    # Key days 1 to 3 of every dose: initials, and an omission code on day 2 at 14:00.
    for text, row in rows.items():
        for day in (1, 2, 3):
            value = "2" if (day == 2 and "14:00" in text) else "SJ"
            ws.cell(row=row, column=header.index(f"reg_given_{day}") + 1, value=value)
    wb.save(out)
    result = _import(sample_data_dir, out)
    assert result.ok and result.rows_imported == 3 + 1, result.problems  # + the dates
    # Export: nine MedicationAdministrations, three a day, at the printed date and time.
    settings = Settings.load(sample_data_dir)
    bundle_path = tmp_path / "bundle.json"
    summary = run_export(sample_data_dir, settings, KEY, "env", "fhir", bundle_path)
    assert not summary.problems
    bundle = _validated_bundle(bundle_path)
    given = [e["resource"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "MedicationAdministration"]
    assert len(given) == 9
    times = sorted(datetime.fromisoformat(g["effectiveDateTime"]) for g in given)
    days_used = [dates[0], dates[1], moved]
    wanted = sorted(datetime.combine(d, datetime.strptime(t, "%H:%M").time(), tzinfo=UK)
                    for d in days_used for t in ("08:00", "14:00", "22:00"))
    assert times == wanted
    by_day: dict[date, int] = {}
    for t in times:
        by_day[t.date()] = by_day.get(t.date(), 0) + 1
    assert by_day == {d: 3 for d in days_used}
    assert sum("handwritten on the paper MAR and keyed" in g.get("note", [{}])[0].get(
        "text", "") for g in given) == 3
    omitted = [g for g in given if g["status"] == "not-done"]
    assert len(omitted) == 1
    assert omitted[0]["statusReason"][0]["text"] == "Omission code 2: Nil by mouth"
    assert datetime.fromisoformat(omitted[0]["effectiveDateTime"]) == datetime.combine(
        dates[1], datetime.strptime("14:00", "%H:%M").time(), tzinfo=UK)
    assert all(g["medicationCodeableConcept"]["text"] == "Amoxicillin" for g in given)


def test_a_mar_printed_without_dates_has_its_column_dates_keyed(
    sample_data_dir: Path, tmp_path: Path, record_issued: Callable[..., list[IssuedForm]],
) -> None:
    """A MAR printed without dates (version 1.0 copies) gets keyable dates; an
    administration is exported at the keyed date of its column."""
    printed = datetime.now(UTC) - timedelta(days=2)
    (mar,) = record_issued("mar", patient_id="p1", nhs_number="9991000976",
                           patient_name="LLŶR-PRITCHARD, Gwenllïan", printed_at=printed,
                           form_version="1.0", rows=("regular:rx2@18:00", "regular:rx2@"))
    layout = issued_layout(MAR, mar)
    days = layout.section("regular.days")
    assert [f.id for f in days.fields] == [f"day_date_{n}" for n in range(1, 8)]
    out = tmp_path / "mar.xlsx"
    build_workbook(MAR, [mar], out)
    wb = load_workbook(out)
    ws = wb["mar.regular.days"]
    header = [c.value for c in ws[1]]
    keyed_day = (printed - timedelta(days=1)).astimezone(UK).date()
    ws.cell(row=3, column=header.index("day_date_1") + 1, value=keyed_day.strftime("%d/%m/%Y"))
    ws = wb["mar.regular"]
    header = [c.value for c in ws[1]]
    ws.cell(row=3, column=header.index("reg_given_1") + 1, value="SJ")
    wb.save(out)
    result = _import(sample_data_dir, out)
    assert result.ok, result.problems
    bundle_path = tmp_path / "bundle.json"
    summary = run_export(sample_data_dir, Settings.load(sample_data_dir), KEY, "env", "fhir",
                         bundle_path)
    assert not summary.problems
    (given,) = [e["resource"] for e in _validated_bundle(bundle_path)["entry"]
                if e["resource"]["resourceType"] == "MedicationAdministration"]
    assert given["effectiveDateTime"] == datetime.combine(
        keyed_day, datetime.strptime("18:00", "%H:%M").time(), tzinfo=UK).isoformat()
    assert "handwritten on the paper MAR and keyed" in given["note"][0]["text"]
