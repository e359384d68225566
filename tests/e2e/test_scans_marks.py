"""Marks on a scanned NEWS2 chart check what was keyed (issue #16 item 4).

The chart is printed, written on in a band cell (the cell found on the page by its printed
band label, read back with PyMuPDF), scanned crooked and noisy, identified, keyed, then
checked with ``scans check``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pymupdf
import pytest
from PIL import ImageDraw, ImageFont
from scan_synth import as_scanned, rasterise, save_pdf

from paperfallback.cli.main import main
from paperfallback.reentry.model import EntryPass, EntryState, FieldAddress
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import Register
from paperfallback.scan.omr import column_places, scan_layout
from paperfallback.settings import Settings

DPI = 200
KEY = "test-key-not-secret"
FONT = Path(__file__).resolve().parents[2] / "resources" / "fonts" / "DejaVuSans.ttf"


def _run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> dict:
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), *args, "--json"]) == 0
    result: dict = json.loads(capsys.readouterr().out)
    return result


def _chart(data_dir: Path, tmp_path: Path) -> tuple[Path, str, dict]:
    out = tmp_path / "news2.pdf"
    assert main(["--data-dir", str(data_dir), "print", "--patient", "999 100 0976",
                 "--forms", "news2", "--out", str(out)]) == 0
    with Register.open(data_dir, KEY, Settings.load(data_dir)) as register:
        issued = register.list(form_id="news2")[-1]
    layout = scan_layout(issued.extra)
    assert layout is not None
    return out, issued.instance_id, layout


def _write_in_band(pdf: Path, layout: dict, column: int, labels: dict[str, str]
                   ) -> list:
    """Write each value in the row whose printed band label is the key of ``labels``."""
    place = column_places(layout, "observations")[column]
    doc = pymupdf.open(pdf)
    pages = rasterise(pdf, DPI)
    page_index = place.page - 1
    draw = ImageDraw.Draw(pages[page_index])
    font = ImageFont.truetype(str(FONT), int(place.grid["row_h"] * DPI / 72 * 0.8))
    scale = DPI / 72
    for band, value in labels.items():
        hits = doc[page_index].search_for(band)
        assert hits, band
        row = hits[0]
        cx = (place.x + place.width / 2) * scale
        cy = (row.y0 + row.y1) / 2 * scale
        draw.text((cx, cy), value, fill=25, font=font, anchor="mm")
    return pages


def _key(data_dir: Path, form_id: str, column: int, values: dict[str, str]) -> None:
    with Register.open(data_dir, KEY, Settings.load(data_dir)) as register:
        entries = EntriesStore(register.work)
        for field, value in values.items():
            entries.save(FieldAddress(form_id, "observations", column, field), EntryPass.FIRST,
                         value, EntryState.VALUE, clerk="Clerk One", form_id="news2")


@pytest.mark.parametrize("keyed_resp, expect", [("27", 1), ("23", 0)])
def test_a_mark_in_another_band_than_the_keyed_value_is_a_discrepancy(
    sample_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    keyed_resp: str, expect: int,
) -> None:
    pdf, form_id, layout = _chart(sample_data_dir, tmp_path)
    pages = _write_in_band(pdf, layout, 0, {"21–24": "23", "≥96": "97"})
    rng = random.Random(4)
    scans = [as_scanned(p, rng, angle=2.2, scale=1.015) for p in pages]
    assert _run(capsys, sample_data_dir, "scans", "import",
                str(save_pdf(scans, tmp_path / "scan.pdf", DPI)))["identified"] == len(pages)
    _key(sample_data_dir, form_id, 0, {"resp_rate": keyed_resp, "spo2": "97", "oxygen": "A"})

    result = _run(capsys, sample_data_dir, "scans", "check")
    (form,) = result["forms"]
    assert form["form_id"] == form_id and form["columns_checked"] == 1
    assert form["pages_unregistered"] == []
    findings = form["findings"]
    assert len(findings) == expect, findings
    if expect:
        (finding,) = findings
        # numbered as the paper and the keying screen number it: after the 3 cached columns
        assert finding["field"] == "resp_rate" and finding["column"] == "column 4"
        assert finding["marked_band"] == "21–24" and finding["keyed_band"] == "≥25"
        assert finding["message"] == ("column 4: resp rate keyed 27 (≥25) but the mark is "
                                      "in 21–24")
        with Register.open(sample_data_dir, KEY, Settings.load(sample_data_dir)) as register:
            open_items = EntriesStore(register.work).discrepancies(form_id)
        assert [(d.kind.value, d.address.field_id) for d in open_items] == [
            ("paper_mark", "resp_rate")]


def test_a_mark_with_nothing_keyed_is_raised_and_a_blank_block_is_not(
    sample_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    pdf, form_id, layout = _chart(sample_data_dir, tmp_path)
    pages = _write_in_band(pdf, layout, 1, {"21–24": "22"})
    scans = [as_scanned(p, random.Random(9), angle=-1.5, scale=0.99, upside_down=True)
             for p in pages]
    _run(capsys, sample_data_dir, "scans", "import",
         str(save_pdf(scans, tmp_path / "scan.pdf", DPI)))
    _key(sample_data_dir, form_id, 1, {"spo2": "97"})  # respirations not keyed

    (form,) = _run(capsys, sample_data_dir, "scans", "check", form_id)["forms"]
    assert [(f["field"], f["keyed"], f["marked_band"]) for f in form["findings"]] == [
        ("resp_rate", None, "21–24")]
