"""Keying any form from its scan (issue #16 items 2 and 3, issue #13 item 10): the pane
beside the fields zooms to the MAR row, the box or the fluid balance hour being keyed and
follows the cursor; a scanned ``ID/2`` typed into the Form ID box opens the MAR at the
first row printed on page 2. The scan is the rendered pack rasterised at 150 dpi, turned
1.5°, with ink stamped into one blank cell found from the PDF itself (not from the boxes
the renderer recorded), so the test sees the strip really is that row of the paper."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from PIL import Image, ImageDraw

from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.domain.records import Prescription
from paperfallback.register import Register
from paperfallback.scan.omr import scan_layout
from paperfallback.settings import Settings

KEY = "test-key-not-secret"
DPI = 150
STAMP = (36, 20)  # pixels: ink filling most of one MAR day cell


@pytest.fixture
def many_drugs(data_dir: Path, make_sample_snapshot: Any) -> Path:
    """Cedar Ward; Bed 1 has 14 more regular medicines, each at 08:00 and 20:00."""
    snap = make_sample_snapshot()
    extra = tuple(
        Prescription(f"rx-x{n}", "p1", f"Drug {n:02d}", "10 mg", "oral", "twice daily",
                     ("08:00", "20:00"), start_date=date(2026, 1, 2)) for n in range(14))
    with CacheStore.open(data_dir, KEY) as store:
        store.replace_snapshot(dataclasses.replace(
            snap, prescriptions=snap.prescriptions + extra))
    return data_dir


def _issued(data_dir: Path, form: str) -> Any:
    with Register.open(data_dir, KEY, Settings.load(data_dir)) as register:
        return register.list(form_id=form)[-1]


def _print_stamp_and_scan(data_dir: Path, tmp_path: Path, form: str,
                          stamp_at: Callable[[pymupdf.Document], tuple[int, float, float]]
                          ) -> None:
    """Print ``form`` for Bed 1, ink a cell (page, x, y in PDF points from the top left,
    as PyMuPDF finds them), scan the pages in turned 1.5°."""
    pack = tmp_path / f"{form}.pdf"
    what = ["--blank", form] if form == "downtime-registration" else \
        ["--patient", "999 100 0976", "--forms", form]
    assert main(["--data-dir", str(data_dir), "print", *what, "--out", str(pack)]) == 0
    doc = pymupdf.open(pack)
    page_no, x, y = stamp_at(doc)
    pages = []
    for number, page in enumerate(doc, start=1):
        pix = page.get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY)
        image = Image.frombytes("L", (pix.width, pix.height), pix.samples)
        if number == page_no:
            px, py = x * DPI / 72, y * DPI / 72
            ImageDraw.Draw(image).rectangle((px, py, px + STAMP[0], py + STAMP[1]), fill=0)
        pages.append(image.rotate(1.5, expand=True, fillcolor=240))
    scan = tmp_path / f"{form}-scan.pdf"
    pages[0].save(scan, format="PDF", save_all=True, append_images=pages[1:], resolution=DPI)
    assert main(["--data-dir", str(data_dir), "scans", "import", str(scan)]) == 0


def _dark(image: Image.Image) -> int:
    return sum(image.histogram()[:60])


def _open(window: Any, qtbot: Any, typed: str) -> None:
    from PySide6.QtCore import Qt

    window.clerk_edit.setFocus()
    qtbot.keyClicks(window.clerk_edit, "Ann Wyn")
    qtbot.keyClick(window.clerk_edit, Qt.Key.Key_Return)
    qtbot.keyClicks(window.id_edit, typed)
    qtbot.keyClick(window.id_edit, Qt.Key.Key_Return)
    assert window.session is not None, window.id_message.text()


def test_a_scanned_page_two_opens_the_mar_there_and_the_pane_shows_that_row(
        qtbot: Any, many_drugs: Path, tmp_path: Path, open_window: Callable[[], Any]) -> None:
    from PySide6.QtWidgets import QApplication

    stamped: dict[str, Any] = {}

    def first_drug_on_page_2(doc: pymupdf.Document) -> tuple[int, float, float]:
        page = doc[1]
        hits = sorted((r for n in range(14) for r in page.search_for(f"Drug {n:02d}")),
                      key=lambda r: r.y0)
        day_2 = date.fromisoformat(
            _issued(many_drugs, "mar").extra["dates:regular"].split(",")[1])
        header = page.search_for(f"{day_2:%a %d-%b-%Y}")  # day 2's printed date
        assert hits and header, "the MAR did not run onto page 2 as planned"
        stamped["drug"] = page.get_textbox(hits[0]).strip()
        return 2, header[0].x0 + 2, hits[0].y0 + 1  # day 2's cell of that row

    _print_stamp_and_scan(many_drugs, tmp_path, "mar", first_drug_on_page_2)
    issued = _issued(many_drugs, "mar")
    assert issued.page_count >= 2
    window = open_window()
    _open(window, qtbot, f"{issued.instance_id}/2")  # what the handheld scanner types
    focused = QApplication.focusWidget()
    section, index = focused.section, focused.index
    assert section.id == "regular" and f"page 2 of {issued.page_count}" in \
        window.form_title.text()
    # the row the cursor is on is the first one printed on page 2 (found from the PDF)
    printed = window.form_widget.findChildren(type(window.id_message))
    assert any(stamped["drug"] in label.text() for label in printed
               if f"Row {index + 1}" in label.text() or f"row {index + 1}" in label.text())
    pane = window.scan_pane
    qtbot.waitUntil(lambda: pane.view is not None and pane.view.part is not None)
    assert pane.view.page == 2 and f"page 2 of {issued.page_count}" in pane.caption.text()
    assert f"row {index + 1}" in pane.caption.text()
    strip = pane.view.image
    assert strip.height < strip.width / 4  # a strip across the row, not the page
    ink_here = _dark(strip)
    # four rows on (two medicines later) the same kind of row carries no stamp
    window.field("regular", index + 4, "reg_given_2").setFocus()
    qtbot.waitUntil(lambda: f"row {index + 5}" in pane.caption.text())
    assert pane.view.part is not None and pane.view.part[1] > 0
    ink_there = _dark(pane.view.image)
    assert ink_here - ink_there > 0.6 * STAMP[0] * STAMP[1], (ink_here, ink_there)
    window.grab().save(str(tmp_path / "keying-mar-with-scan.png"))
    # the allergy box's weight, on page 1: the pane goes to that box
    window.field("allergy_box", 0, "weight_kg").setFocus()
    qtbot.waitUntil(lambda: pane.view is not None and pane.view.page == 1)
    assert pane.view.part is not None and "Weight" in pane.caption.text()


def test_the_pane_zooms_to_a_fluid_balance_hour(
        qtbot: Any, sample_data_dir: Path, tmp_path: Path,
        open_window: Callable[[], Any]) -> None:
    def at_1300(doc: pymupdf.Document) -> tuple[int, float, float]:
        page = doc[0]
        hour = page.search_for("13:00")
        urine = page.search_for("OUT Urine")
        return 1, urine[0].x0 + 2, hour[0].y0 - 2

    _print_stamp_and_scan(sample_data_dir, tmp_path, "fluid-balance", at_1300)
    issued = _issued(sample_data_dir, "fluid-balance")
    boxes = (scan_layout(issued.extra) or {})["fields"]
    assert any(e["section"] == "hours" for e in boxes)
    window = open_window()
    _open(window, qtbot, issued.instance_id)
    pane = window.scan_pane
    window.field("hours", 6, "out_urine").setFocus()  # 13:00 is the 7th hour from 07:00
    qtbot.waitUntil(lambda: pane.view is not None and "row 13:00" in pane.caption.text())
    assert pane.view.part is not None
    stamped = _dark(pane.view.image)
    window.field("hours", 12, "out_urine").setFocus()
    qtbot.waitUntil(lambda: "row 19:00" in pane.caption.text())
    assert stamped - _dark(pane.view.image) > 0.6 * STAMP[0] * STAMP[1]


def test_the_pane_shows_the_registration_box_being_keyed(
        qtbot: Any, data_dir: Path, tmp_path: Path, open_window: Callable[[], Any]) -> None:
    def in_the_sex_box(doc: pymupdf.Document) -> tuple[int, float, float]:
        label = doc[0].search_for("Sex")[0]
        return 1, label.x0 + 40, label.y1 + 4  # inside the box, clear of its tick boxes

    _print_stamp_and_scan(data_dir, tmp_path, "downtime-registration", in_the_sex_box)
    issued = _issued(data_dir, "downtime-registration")
    window = open_window()
    _open(window, qtbot, issued.instance_id)
    pane = window.scan_pane
    window.field("identity", 0, "dt_sex").setFocus()
    qtbot.waitUntil(lambda: pane.view is not None and pane.view.part is not None
                    and pane.caption.text().endswith("Sex"))
    stamped = _dark(pane.view.image)
    window.grab().save(str(tmp_path / "keying-registration-with-scan.png"))
    window.field("arrival", 0, "dt_epr_number").setFocus()
    qtbot.waitUntil(lambda: "EPR number" in pane.caption.text())
    assert pane.view.part is not None
    assert stamped - _dark(pane.view.image) > 0.6 * STAMP[0] * STAMP[1]
