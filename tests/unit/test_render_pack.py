"""Packs read back independently (PyMuPDF text, zxing-cpp QR): every page carries the
banner, "Data as of", "Page x of y" and its form ID; the allergy wording is exact."""

from __future__ import annotations

import io
import os
from datetime import datetime, timedelta
from pathlib import Path

import pymupdf
import pytest
import zxingcpp
from PIL import Image

from paperfallback.cache.store import CacheStore
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.formspec import load_catalogue
from paperfallback.register import IssuedForm, MemoryAllocator, validate_instance_id
from paperfallback.render import PackCancelled, PackRequest, PackResult, render_pack
from paperfallback.render.fonts import missing_glyphs
from paperfallback.render.prefill import ALLERGIES_NOT_RECORDED, NO_KNOWN_ALLERGIES
from paperfallback.render.qr import parse_qr_payload
from paperfallback.settings import Settings

WARD_FORMS = ("handover", "news2", "mar", "fluid-balance", "continuation")
Pack = tuple[PackResult, pymupdf.Document]


def _render(data_dir: Path, request: PackRequest, now: datetime,
            out: Path | None = None) -> tuple[PackResult, pymupdf.Document]:
    buffer = io.BytesIO()
    with CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        result = render_pack(request, store, load_catalogue(), Settings(pc_code="K7"),
                             out=out or buffer, allocate_ids=MemoryAllocator("K7"), now=now)
    data = out.read_bytes() if out else buffer.getvalue()
    return result, pymupdf.open(stream=data, filetype="pdf")


def _page_ranges(result: PackResult) -> list[tuple[IssuedForm, range]]:
    ranges, start = [], 0
    for issued in result.issued:
        ranges.append((issued, range(start, start + issued.page_count)))
        start += issued.page_count
    return ranges


@pytest.fixture
def ward_pack(sample_data_dir: Path, sample_as_of: datetime) -> Pack:
    return _render(sample_data_dir, PackRequest(ward="CED", forms=WARD_FORMS),
                   sample_as_of + timedelta(minutes=20))


def test_every_page_has_banner_data_as_of_page_number_and_id(ward_pack: Pack) -> None:
    result, doc = ward_pack
    assert result.page_count == doc.page_count == sum(i.page_count for i in result.issued)
    names = {i.patient_name for i in result.issued if i.patient_name}
    assert len(names) == 3
    assert result.issued[0].form_id == "pack-cover"
    for issued, pages in _page_ranges(result):
        for n, index in enumerate(pages, start=1):
            text = doc[index].get_text()
            assert "Data as of 05-Jan-2026 08:30" in text
            assert f"Page {n} of {issued.page_count}" in text
            assert issued.instance_id in text
            assert "STALE DATA" not in text
            if issued.scope == "patient":
                assert issued.patient_name in text
                assert not [n for n in names if n != issued.patient_name and n in text]
                if issued.nhs_number:
                    assert format_nhs_number(issued.nhs_number) in text
                else:
                    assert "NHS number not recorded" in text
                    assert f"Hosp no {issued.hospital_number}" in text


def test_qr_on_every_page_decodes_to_the_printed_id(ward_pack: Pack) -> None:
    result, doc = ward_pack
    for issued, pages in _page_ranges(result):
        for n, index in enumerate(pages, start=1):
            pix = doc[index].get_pixmap(dpi=150)
            image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
            codes = [c.text for c in zxingcpp.read_barcodes(image)]
            assert codes == [f"{issued.instance_id}/{n}"], (issued.form_id, n)
            assert parse_qr_payload(codes[0]) == (issued.instance_id, n)
            assert validate_instance_id(issued.instance_id) == issued.instance_id


def test_non_ascii_names_come_out_intact_with_no_missing_glyph(ward_pack: Pack) -> None:
    _result, doc = ward_pack
    text = "".join(page.get_text() for page in doc)
    for name in ("LLŶR-PRITCHARD, Gwenllïan", "WÓJCIK, Łukasz", "Angharad Gwenhwyfar"):
        assert name in text
    assert not missing_glyphs(text)
    assert "\ufffd" not in text
    for page in doc:
        for font in page.get_fonts():
            assert font[1] == "ttf" and "DejaVuSans" in font[3], font  # embedded, subset


def test_allergy_wording_is_exact_for_each_state(ward_pack: Pack) -> None:
    result, doc = ward_pack
    mar = {i.patient_id: doc[pages[0]].get_text() for i, pages in _page_ranges(result)
           if i.form_id == "mar"}
    assert "Penicillin (anaphylaxis, severe)" in mar["p1"]
    assert NO_KNOWN_ALLERGIES not in mar["p1"] and ALLERGIES_NOT_RECORDED not in mar["p1"]
    assert NO_KNOWN_ALLERGIES in mar["p2"] and ALLERGIES_NOT_RECORDED not in mar["p2"]
    assert ALLERGIES_NOT_RECORDED in mar["p3"] and NO_KNOWN_ALLERGIES not in mar["p3"]


def test_stale_cache_marks_every_page(sample_data_dir: Path, sample_as_of: datetime) -> None:
    result, doc = _render(sample_data_dir, PackRequest(ward="cedar ward", forms=WARD_FORMS),
                          sample_as_of + timedelta(hours=5, minutes=5))
    for page in doc:
        assert "STALE DATA: the cache is 5 hours 5 min old" in page.get_text()
    assert all(i.stale for i in result.issued)


def test_pack_layout_and_register_facts(ward_pack: Pack) -> None:
    result, _doc = ward_pack
    forms = [(i.form_id, i.patient_id) for i in result.issued]
    assert forms[:2] == [("pack-cover", None), ("handover", None)]
    # then each patient's forms, in bed order
    assert [f for f, _p in forms[2:6]] == list(WARD_FORMS[1:])
    assert [p for _f, p in forms[2:]] == ["p1"] * 4 + ["p2"] * 4 + ["p3"] * 4
    news2 = next(i for i in result.issued if i.form_id == "news2" and i.patient_id == "p1")
    assert news2.prefilled_columns == 3 and news2.blank_columns >= 8 + 16
    assert len(news2.prefilled_times) == 3
    mar = next(i for i in result.issued if i.form_id == "mar" and i.patient_id == "p1")
    # A register row per printed dose-time sub-row (rx2 has one time and a spare row).
    assert mar.rows == ("regular:rx1@08:00", "regular:rx1@14:00", "regular:rx1@22:00",
                        "regular:rx2@18:00", "regular:rx2@", "prn:rx3", "once_infusions:rx4")
    assert len({i.instance_id for i in result.issued}) == len(result.issued)


def test_same_request_gives_the_same_bytes(sample_data_dir: Path, sample_as_of: datetime,
                                           tmp_path: Path) -> None:
    now = sample_as_of + timedelta(minutes=5)
    first, _ = _render(sample_data_dir, PackRequest(ward="CED"), now, tmp_path / "a.pdf")
    second, _ = _render(sample_data_dir, PackRequest(ward="CED"), now, tmp_path / "b.pdf")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert first.page_count == second.page_count


def test_cancelled_pack_writes_nothing(sample_data_dir: Path, sample_as_of: datetime,
                                       tmp_path: Path) -> None:
    out = tmp_path / "pack.pdf"
    seen: list[tuple[int, int]] = []
    with CacheStore.open(sample_data_dir, os.environ["PAPERFALLBACK_KEY"]) as store, \
            pytest.raises(PackCancelled, match="cancelled"):
        render_pack(PackRequest(ward="CED"), store, load_catalogue(), Settings(), out=out,
                    allocate_ids=MemoryAllocator(), now=sample_as_of,
                    progress=lambda done, total: seen.append((done, total)),
                    cancelled=lambda: len(seen) >= 2)
    assert not out.exists()
    assert not list(tmp_path.glob("*.part"))
