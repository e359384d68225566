"""Every catalogue form prints blank and pre-filled; a new YAML form prints with no code;
long names never push identifiers off; downtime numbers are unique per copy."""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pymupdf
import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import Prescription, Snapshot
from paperfallback.formspec import FormCatalogue, load_catalogue
from paperfallback.register import MemoryAllocator, validate_downtime_number
from paperfallback.render import PackRequest, PackResult, render_pack
from paperfallback.resources import forms_dir
from paperfallback.settings import Settings


def _render(request: PackRequest, data_dir: Path | None, now: datetime,
            catalogue: FormCatalogue | None = None) -> tuple[PackResult, pymupdf.Document]:
    buffer = io.BytesIO()
    store = CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) if data_dir else None
    try:
        result = render_pack(request, store, catalogue or load_catalogue(), Settings(),
                             out=buffer, allocate_ids=MemoryAllocator(), now=now)
    finally:
        if store:
            store.close()
    return result, pymupdf.open(stream=buffer.getvalue(), filetype="pdf")


@pytest.mark.parametrize("form_id", load_catalogue().ids())
def test_every_form_prints_blank(form_id: str, sample_as_of: datetime) -> None:
    result, doc = _render(PackRequest(blank_form=form_id, count=2), None, sample_as_of)
    spec = load_catalogue().get(form_id)
    assert len(result.issued) == 2 and doc.page_count == result.page_count >= 2
    text = doc[0].get_text()
    assert spec.title in text and "Page 1 of" in text
    assert "Data as of: blank form" in text
    if spec.scope == "patient":
        assert "Affix patient label here" in text and "NHS number" in text
    every_page = " ".join(" ".join(p.get_text().split()) for p in doc)
    for section in spec.sections:
        for field in section.fields:  # repeated cells carry their group's header instead
            if field.type != "lines":
                assert field.label.split(" ")[0] in every_page, field.id


def test_downtime_numbers_are_unique_and_printed(sample_as_of: datetime) -> None:
    result, doc = _render(PackRequest(blank_form="downtime-registration", count=3), None,
                          sample_as_of)
    numbers = [i.downtime_number for i in result.issued]
    assert len(set(numbers)) == 3
    for issued, page in zip(result.issued, doc, strict=True):
        assert issued.downtime_number and validate_downtime_number(issued.downtime_number)
        assert issued.downtime_number in page.get_text()


def test_clinic_and_theatre_lists(sample_data_dir: Path, sample_as_of: datetime) -> None:
    now = sample_as_of + timedelta(minutes=1)
    result, doc = _render(PackRequest(clinic="FRACTURE CLINIC", day=date(2026, 1, 5)),
                          sample_data_dir, now)
    text = " ".join(doc[0].get_text().split())
    assert "Clinic: Fracture clinic" in text
    assert "07700 900123" in text and "Dafydd Llŷr (son) 07700 900456" in text
    assert text.index("WÓJCIK, Łukasz") < text.index("LLŶR-PRITCHARD, Gwenllïan")  # by time
    assert result.issued[0].rows == ("appointments:ap1", "appointments:ap2")
    result, doc = _render(PackRequest(theatre="theatre 2", day=date(2026, 1, 5)),
                          sample_data_dir, now)
    text = " ".join(doc[0].get_text().split())
    assert "Hemiarthroplasty, left hip" in text and "Allergies not recorded" in text
    with pytest.raises(InputError, match=r"no clinic 'Eye clinic'.*Fracture clinic"):
        _render(PackRequest(clinic="Eye clinic", day=date(2026, 1, 5)), sample_data_dir, now)


def test_patient_pack_by_hospital_number_uses_patient_forms(sample_data_dir: Path,
                                                            sample_as_of: datetime) -> None:
    result, doc = _render(PackRequest(patient_ids=("rm100002",)), sample_data_dir,
                          sample_as_of)
    assert [i.form_id for i in result.issued] == ["news2", "mar", "fluid-balance"]
    text = doc[0].get_text()
    assert "NHS number not recorded" in text and "Hosp no RM100002" in text
    with pytest.raises(InputError, match="'handover' is a ward form"):
        _render(PackRequest(patient_ids=("RM100002",), forms=("handover",)), sample_data_dir,
                sample_as_of)


def test_long_name_never_pushes_identifiers_off(sample_data_dir: Path,
                                                sample_as_of: datetime) -> None:
    _result, doc = _render(PackRequest(patient_ids=("RM100003",), forms=("news2", "mar")),
                           sample_data_dir, sample_as_of)
    for page in doc:
        nhs = page.search_for("999 100 2928")
        hosp = page.search_for("RM100003")
        assert nhs and hosp
        width = page.rect.width
        assert all(r.x1 < width for r in nhs + hosp)
        banner = page.rect.height * 0.15  # the footer repeats the name on the right
        name_words = [w for w in page.get_text("words") if "Myfanwy" in w[4] and w[1] < banner]
        assert name_words and all(w[2] < nhs[0].x0 for w in name_words)


NEW_FORM = """
id: pressure-care
version: "0.1"
title: Pressure area care chart
scope: patient
page: {orientation: landscape}
sections:
  - id: checks
    kind: chart
    axis: columns
    time_field: pc_time
    blank_columns: 12
    fields:
      - {id: pc_time, label: Time checked, type: time}
      - id: pc_position
        label: Position
        type: choice
        choices: [{code: L, label: Left}, {code: R, label: Right}, {code: B, label: Back}]
      - {id: pc_skin, label: Skin intact, type: tickbox}
      - {id: pc_initials, label: Initials, type: initials}
  - id: notes
    kind: lines
    fields:
      - {id: pc_note, label: Skin assessment notes, type: lines}
"""


def test_adding_a_form_needs_no_code(tmp_path: Path, sample_data_dir: Path,
                                     sample_as_of: datetime) -> None:
    (tmp_path / "pressure-care.yaml").write_text(NEW_FORM, encoding="utf-8")
    catalogue = load_catalogue(forms_dir(), tmp_path)
    assert "pressure-care" in catalogue
    result, doc = _render(PackRequest(patient_ids=("RM100001",), forms=("pressure-care",)),
                          sample_data_dir, sample_as_of, catalogue)
    text = "".join(page.get_text() for page in doc)
    assert "Pressure area care chart" in text and "Skin assessment notes" in text
    assert "LLŶR-PRITCHARD, Gwenllïan" in text
    assert result.issued[0].form_id == "pressure-care" and result.issued[0].blank_columns >= 12


def test_mar_blank_rows_for_new_prescriptions_always_print(
    data_dir: Path, sample_as_of: datetime, make_sample_snapshot: Callable[[], Snapshot]
) -> None:
    """A long drug chart pushes its blank rows overleaf; they are never dropped."""
    snapshot = make_sample_snapshot()
    extra = tuple(Prescription(f"rx-extra-{i}", "p1", f"Medicine {i}", "10 mg", "oral",
                               "twice daily", ("08:00", "20:00")) for i in range(12))
    snapshot = dataclasses.replace(snapshot, prescriptions=snapshot.prescriptions + extra)
    with CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        store.replace_snapshot(snapshot)
    result, doc = _render(PackRequest(patient_ids=("RM100001",), forms=("mar",)), data_dir,
                          sample_as_of)
    (mar,) = result.issued
    spec = load_catalogue().get("mar")
    wanted = sum(getattr(s, "blank_rows", 0) for s in spec.sections)
    assert mar.blank_columns == wanted  # every blank row of every table was printed
    text = " ".join(" ".join(p.get_text().split()) for p in doc)
    assert "REGULAR MEDICINES (continued)" in text
    # One register row per printed dose-time sub-row (at least two per prescription):
    # rx1 three times, rx2 once plus a spare row, and the twelve twice-daily medicines.
    assert len([r for r in mar.rows if r.startswith("regular:")]) == 3 + 2 + 12 * 2
    assert "regular:rx2@" in mar.rows and "regular:rx-extra-0@20:00" in mar.rows


def test_empty_tables_say_so(sample_data_dir: Path, sample_as_of: datetime) -> None:
    _result, doc = _render(PackRequest(patient_ids=("RM100002",), forms=("mar",)),
                           sample_data_dir, sample_as_of)
    text = " ".join(" ".join(p.get_text().split()) for p in doc)
    assert "No medicines of this kind in the cache" in text


@pytest.mark.parametrize("form_id", ["news2", "mar", "continuation"])
def test_blank_patient_banner_has_ward_and_bed_boxes(form_id: str,
                                                     sample_as_of: datetime) -> None:
    """Audit: the handwritten identification boxes lacked Ward and Bed, so a blank form
    filled in on a busy ward could not be put back with its bed's notes."""
    _result, doc = _render(PackRequest(blank_form=form_id), None, sample_as_of)
    for page in doc:
        [as_of] = page.search_for("Data as of")
        banner = [w[4] for w in page.get_text("words") if w[3] <= as_of.y0]
        for box in ("FAMILY", "Given", "NHS", "Date", "Hospital", "Ward", "Bed"):
            assert box in banner, (page.number, box)
