"""Where every keyable box was drawn (issue #16 item 2, issue #13 item 10): the renderer
records, per issued form and page, each keyable field's box, each keyable table cell (MAR
drug rows, dose-time sub-rows, day columns) and each printed tick box, in
``IssuedForm.extra["scan_layout"]["fields"]``. The boxes are checked against what the PDF
really draws (PyMuPDF's vector drawings), and the row numbers against keying's."""

from __future__ import annotations

import dataclasses
import io
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.domain.records import Prescription
from paperfallback.formspec import FormCatalogue, FormSpec, load_catalogue
from paperfallback.reentry.printed import issued_layout
from paperfallback.register import IssuedForm, MemoryAllocator
from paperfallback.render import PackRequest, render_pack
from paperfallback.scan.omr import scan_layout
from paperfallback.settings import Settings

TOL = 0.05  # points: boxes are recorded rounded to 0.01 pt


def _pack(data_dir: Path, request: PackRequest, now: datetime,
          forms: FormCatalogue | None = None) -> tuple[list[IssuedForm], pymupdf.Document]:
    buffer = io.BytesIO()
    store = CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) \
        if request.blank_form is None else None
    try:
        result = render_pack(request, store, forms or load_catalogue(), Settings(pc_code="K7"),
                             out=buffer, allocate_ids=MemoryAllocator("K7"), now=now)
    finally:
        if store is not None:
            store.close()
    return result.issued, pymupdf.open(stream=buffer.getvalue(), filetype="pdf")


def _layout(issued: IssuedForm) -> dict[str, Any]:
    layout = scan_layout(issued.extra)
    assert layout is not None, f"{issued.form_id} has no scan_layout"
    return layout


def _rects(doc: pymupdf.Document, page: int) -> list[tuple[float, float, float, float]]:
    """Every rectangle drawn on a page, as (left, top, width, height) in PDF points with y
    up (PyMuPDF measures y down from the top of the page)."""
    pdf_page = doc[page - 1]
    height = pdf_page.rect.height
    out = []
    for drawing in pdf_page.get_drawings():
        for item in drawing["items"]:
            if item[0] == "re":
                r = item[1]
                out.append((r.x0, height - r.y0, r.width, r.height))
    return out


def _hlines(doc: pymupdf.Document, page: int) -> list[tuple[float, float, float]]:
    """Horizontal lines and rectangle edges: (y with y up, x0, x1)."""
    pdf_page = doc[page - 1]
    height = pdf_page.rect.height
    out = []
    for drawing in pdf_page.get_drawings():
        for item in drawing["items"]:
            if item[0] == "l" and abs(item[1].y - item[2].y) < 0.01:
                xs = sorted((item[1].x, item[2].x))
                out.append((height - item[1].y, xs[0], xs[1]))
            elif item[0] == "re":
                r = item[1]
                out += [(height - r.y0, r.x0, r.x1), (height - r.y1, r.x0, r.x1)]
    return out


def _drawn(box: list[float], rects: list[tuple[float, float, float, float]]) -> bool:
    return any(all(abs(a - b) <= TOL for a, b in zip(box, r, strict=True)) for r in rects)


def _ruled(doc: pymupdf.Document, page: int, box: list[float]) -> bool:
    """A table cell: a drawn horizontal line at its top and at its bottom spans it."""
    left, top, width, height = box
    lines = _hlines(doc, page)

    def at(y: float) -> bool:
        return any(abs(ly - y) <= TOL and x0 <= left + 0.5 and x1 >= left + width - 0.5
                   for ly, x0, x1 in lines)
    return at(top) and at(top - height)


def _many_drugs(make_sample_snapshot: Any, count: int) -> Any:
    snap = make_sample_snapshot()
    extra = tuple(
        Prescription(f"rx-x{n}", "p1", f"Drug {n:02d}", "10 mg", "oral", "twice daily",
                     ("08:00", "20:00"), start_date=date(2026, 1, 2))
        for n in range(count))
    return dataclasses.replace(snap, prescriptions=snap.prescriptions + extra)


@pytest.fixture
def mar_two_pages(data_dir: Path, make_sample_snapshot: Any) -> Path:
    """Cedar Ward with Bed 1 on 22 more regular medicines: a MAR of two pages or more."""
    with CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        store.replace_snapshot(_many_drugs(make_sample_snapshot, 22))
    return data_dir


def test_every_keyable_mar_cell_is_recorded_where_it_was_drawn(
        sample_data_dir: Path, sample_as_of: datetime) -> None:
    issued, doc = _pack(sample_data_dir, PackRequest(patient_ids=("RM100001",), forms=("mar",)),
                        sample_as_of + timedelta(minutes=5))
    mar = issued[0]
    layout = _layout(mar)
    assert layout["grids"] == []  # no chart on a MAR, and still a layout
    assert layout["page"][:2] == [round(doc[0].rect.width, 2), round(doc[0].rect.height, 2)]
    fields = layout["fields"]
    keyed = issued_layout(load_catalogue().get("mar"), mar)
    for entry in fields:
        assert set(entry) == {"page", "section", "field", "row", "kind", "box", "options"}
    # Every keyed table row and field is somewhere on the paper, numbered as keying numbers
    # it: regular rows are dose-time sub-rows (rx1 at 08:00, 14:00, 22:00, then spares).
    regular = keyed.section("regular")
    by_row: dict[int, set[str]] = {}
    for e in fields:
        if e["section"] == "regular":
            by_row.setdefault(e["row"], set()).add(e["field"])
    assert sorted(by_row) == list(range(regular.count))
    days = {f"reg_given_{n}" for n in range(1, 8)}
    for row, found in by_row.items():
        label = regular.row_labels[row] if row < len(regular.row_labels) else ""
        printed_time = label.startswith("dose time ")
        assert found == days | (set() if printed_time else {"reg_time"}), (row, label)
    # each cell is a ruled box on the page, and the rows follow each other down the page
    given_1 = sorted((e for e in fields if e["field"] == "reg_given_1"), key=lambda e: e["row"])
    for e in given_1:
        assert e["kind"] == "initials" and e["options"] == [] and e["page"] == 1
        assert _ruled(doc, e["page"], e["box"]), e
    tops = [e["box"][1] for e in given_1]
    assert tops == sorted(tops, reverse=True) and len(set(tops)) == len(tops)
    assert given_1[1]["box"][1] == pytest.approx(given_1[0]["box"][1] - given_1[0]["box"][3])
    # day 2 is right of day 1, same row
    g2 = next(e for e in fields if e["field"] == "reg_given_2" and e["row"] == 0)
    assert g2["box"][0] == pytest.approx(given_1[0]["box"][0] + given_1[0]["box"][2], abs=TOL)
    # the PRN log: one keyed row per printed row, each "Given n" group's three cells
    prn = [e for e in fields if e["section"] == "prn"]
    assert {e["row"] for e in prn} == set(range(keyed.section("prn").count))
    assert {e["field"] for e in prn} == {f"{f}_{n}" for n in range(1, 7)
                                         for f in ("prn_time", "prn_given_dose", "prn_initials")}
    # the allergy box's keyable fields (not the printed allergies), drawn as boxes
    allergy = {e["field"]: e for e in fields if e["section"] == "allergy_box"}
    assert set(allergy) == {"allergy_checked_by", "weight_kg"}
    rects = _rects(doc, 1)
    assert all(_drawn(e["box"], rects) for e in allergy.values())
    assert allergy["weight_kg"]["row"] is None and allergy["weight_kg"]["kind"] == "number"
    # the dates of the day columns: keyable (crossed out and rewritten) in the header
    dates = {e["field"] for e in fields if e["section"] == "regular.days"}
    assert dates == {f"day_date_{n}" for n in range(1, 8)}
    # compact: rounded to hundredths of a point
    text = mar.extra["scan_layout"]
    assert all(len(str(v).split(".")[-1]) <= 2 for e in fields for v in e["box"])
    assert len(text) < 60_000


def test_choice_tick_boxes_are_the_squares_printed(data_dir: Path,
                                                   sample_as_of: datetime) -> None:
    issued, doc = _pack(data_dir, PackRequest(blank_form="downtime-registration"), sample_as_of)
    layout = _layout(issued[0])
    form = load_catalogue().get("downtime-registration")
    choices = {f.id: f for s in form.sections for f in s.all_fields()
               if f.type == "choice" and f.keyed}
    assert choices
    recorded = {e["field"]: e for e in layout["fields"] if e["kind"] == "choice"}
    assert set(recorded) == set(choices)
    for field_id, spec in choices.items():
        entry = recorded[field_id]
        assert [o["value"] for o in entry["options"]] == [c.code for c in spec.choices]
        rects = _rects(doc, entry["page"])
        left, top, width, height = entry["box"]
        for option in entry["options"]:
            assert _drawn(option["box"], rects), option  # the small square really drawn
            ol, ot, ow, oh = option["box"]
            assert ow == pytest.approx(oh) and ow < 10
            assert left <= ol and ol + ow <= left + width + TOL
            assert top - height <= ot - oh and ot <= top + TOL
    non_choice = [e for e in layout["fields"] if e["kind"] not in ("choice", "tickbox")]
    assert non_choice and all(e["options"] == [] for e in non_choice)
    # a blank copy's boxes are all there: every keyed field of every fields section
    keyed_ids = {f.id for s in form.sections if s.kind == "fields"
                 for f in s.all_fields() if f.keyed}
    assert {e["field"] for e in layout["fields"]} >= keyed_ids


TICK_FORM = """
id: tick-test
version: "1.0"
title: Tick test
scope: blank
page: {size: A4, orientation: portrait, margin_mm: 10}
sections:
  - id: checks
    kind: fields
    columns: 3
    fields:
      - {id: consent, label: "Consent seen", type: tickbox}
      - {id: note, label: "Note", type: text, width: 2}
  - id: log
    kind: table
    source: none
    blank_rows: 3
    fields:
      - {id: when, label: "When", type: datetime}
      - {id: ok, label: "OK", type: choice,
         choices: [{code: Y, label: "Yes"}, {code: N, label: "No"}]}
  - id: notes
    kind: lines
    fields:
      - {id: text, label: "Text", type: lines}
"""


def test_a_tickbox_records_its_square_with_the_ticked_value(
        data_dir: Path, tmp_path: Path, sample_as_of: datetime) -> None:
    import yaml

    from paperfallback.reentry.validation import KeyingContext, parse_value

    spec = FormSpec.model_validate(yaml.safe_load(TICK_FORM))
    catalogue = FormCatalogue([*load_catalogue(), spec])
    issued, doc = _pack(data_dir, PackRequest(blank_form="tick-test"), sample_as_of, catalogue)
    fields = _layout(issued[0])["fields"]
    tick = next(e for e in fields if e["field"] == "consent")
    assert tick["kind"] == "tickbox" and len(tick["options"]) == 1
    option = tick["options"][0]
    assert _drawn(option["box"], _rects(doc, 1))
    # the value offered for a ticked box is what keying stores for a tick
    parsed = parse_value(spec.sections[0].all_fields()[0], option["value"], KeyingContext())
    assert parsed.canonical == option["value"]
    log = [e for e in fields if e["section"] == "log"]
    assert {e["row"] for e in log} >= {0, 1, 2}
    ok = [e for e in log if e["field"] == "ok"]
    assert all([o["value"] for o in e["options"]] == ["Y", "N"] for e in ok)
    notes = [e for e in fields if e["section"] == "notes"]
    # a blank table fills its page: the notes are on the next, one box for the column
    assert [(e["field"], e["row"], e["page"]) for e in notes] == [
        ("text", None, issued[0].page_count)]


def test_a_mar_over_two_pages_numbers_its_rows_on(
        mar_two_pages: Path, sample_as_of: datetime) -> None:
    issued, doc = _pack(mar_two_pages, PackRequest(patient_ids=("RM100001",), forms=("mar",)),
                        sample_as_of + timedelta(minutes=5))
    mar = issued[0]
    assert mar.page_count >= 2
    fields = _layout(mar)["fields"]
    regular = issued_layout(load_catalogue().get("mar"), mar).section("regular")
    pages = {}
    for e in fields:
        if e["section"] == "regular" and e["field"] == "reg_given_1":
            pages[e["row"]] = e["page"]
    assert sorted(pages) == list(range(regular.count))
    assert pages[0] == 1 and max(pages.values()) >= 2
    rows = sorted(pages)
    assert [pages[r] for r in rows] == sorted(pages[r] for r in rows)  # page order = row order
    first_on_2 = min(r for r in rows if pages[r] == 2)
    cell = next(e for e in fields if e["field"] == "reg_given_1" and e["row"] == first_on_2)
    assert _ruled(doc, 2, cell["box"])
    # each keyed row and field appears once (the header's dates only on the first page)
    seen = [(e["section"], e["field"], e["row"]) for e in fields]
    assert len(seen) == len(set(seen))


def test_rows_of_a_fluid_balance_chart_and_its_fields(
        sample_data_dir: Path, sample_as_of: datetime) -> None:
    issued, doc = _pack(sample_data_dir,
                        PackRequest(patient_ids=("RM100001",), forms=("fluid-balance",)),
                        sample_as_of + timedelta(minutes=5))
    fields = _layout(issued[0])["fields"]
    hours = [e for e in fields if e["section"] == "hours"]
    assert {e["row"] for e in hours} == set(range(24))
    assert "fb_hour" not in {e["field"] for e in hours}  # the hour is printed
    urine = sorted((e for e in hours if e["field"] == "out_urine"), key=lambda e: e["row"])
    assert all(_ruled(doc, 1, e["box"]) for e in urine)
    day = {e["field"] for e in fields if e["section"] == "day"}
    assert day == {"fb_date", "fb_target", "fb_carried", "fb_weight"}


def test_a_ward_pack_layout_stays_small(sample_data_dir: Path, sample_as_of: datetime) -> None:
    issued, _doc = _pack(sample_data_dir, PackRequest(ward="CED"),
                         sample_as_of + timedelta(minutes=5))
    for form in issued:
        if form.form_id == "pack-cover":
            continue
        layout = scan_layout(form.extra)
        assert layout is not None
        assert "fields" in layout and "grids" in layout
        assert len(form.extra["scan_layout"]) < 60_000, form.form_id


def test_a_blank_copy_records_the_banner_boxes_keyed_as_the_patient(
        data_dir: Path, sample_as_of: datetime) -> None:
    from paperfallback.reentry.layout import PATIENT_FIELDS, PATIENT_SECTION

    issued, doc = _pack(data_dir, PackRequest(blank_form="mar"), sample_as_of)
    fields = _layout(issued[0])["fields"]
    banner = [e for e in fields if e["section"] == PATIENT_SECTION]
    assert {e["field"] for e in banner} == {f.id for f in PATIENT_FIELDS}
    assert {e["page"] for e in banner} == {1}  # keyed once, from the first page
    rects = _rects(doc, 1)
    assert all(_drawn(e["box"], rects) for e in banner)
    assert next(e for e in banner if e["field"] == "birth_date")["kind"] == "date"
