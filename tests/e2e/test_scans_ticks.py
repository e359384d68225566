"""Ticks in the printed boxes of a returned form are offered for keying and check what is
keyed (issue #16 item 4, tick/choice half).

A downtime registration is printed, rasterised at 200 dpi with pypdfium2, ticked with pen
strokes in squares found on the PDF itself (next to their printed codes, read back with
PyMuPDF: not from the layout the product reads), turned ±2°, given noise and JPEG
artefacts, imported with ``scans import``, then opened for keying and checked with
``scans check``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pypdfium2
import pytest
from PIL import Image, ImageDraw
from scan_synth import as_scanned, save_pdf

from paperfallback.cli.main import main
from paperfallback.formspec import load_catalogue
from paperfallback.reentry.keying_service import KeyingService
from paperfallback.reentry.model import DiscrepancyKind, EntryPass, FieldAddress
from paperfallback.reentry.store import EntriesStore
from paperfallback.register import IssuedForm, Register
from paperfallback.scan.choice_marks import choice_fields
from paperfallback.scan.omr import scan_layout
from paperfallback.settings import Settings

DPI = 200
KEY = "test-key-not-secret"


def _run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> dict:
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), *args, "--json"]) == 0
    result: dict = json.loads(capsys.readouterr().out)
    return result


def _rasterise(pdf: Path) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(str(pdf))
    try:
        return [page.render(scale=DPI / 72, grayscale=True).to_pil().convert("L")
                for page in document]
    finally:
        document.close()


def _square_before(page: pymupdf.Page, text: str) -> pymupdf.Rect:
    """The printed tick square just left of ``text`` (top-down PDF coordinates)."""
    squares = [d["rect"] for d in page.get_drawings()
               if 4 < d["rect"].width < 8 and abs(d["rect"].width - d["rect"].height) < 0.5]
    for hit in page.search_for(text):
        near = [s for s in squares if abs((s.y0 + s.y1) / 2 - (hit.y0 + hit.y1) / 2) < 3
                and 0 <= hit.x0 - s.x1 < 4]
        if near:
            return near[0]
    raise AssertionError(f"no tick square before {text!r}")


def _tick(image: Image.Image, square: pymupdf.Rect, rng: random.Random) -> None:
    """A pen tick (0.4 mm): a short stroke down, a long one up and out past the box."""
    s = DPI / 72
    x0, y0, x1, y1 = square.x0 * s, square.y0 * s, square.x1 * s, square.y1 * s
    w, h = x1 - x0, y1 - y0
    j = [rng.uniform(-0.06, 0.06) for _ in range(3)]
    ImageDraw.Draw(image).line(
        [(x0 + w * (0.15 + j[0]), y0 + h * (0.5 + j[1])), (x0 + w * 0.42, y1 - h * 0.12),
         (x1 + w * (0.3 + j[2]), y0 - h * 0.4)], fill=rng.randint(15, 50), width=3,
        joint="curve")


@pytest.fixture
def registration(data_dir: Path, tmp_path: Path) -> Iterator[tuple[Path, IssuedForm]]:
    pdf = tmp_path / "registration.pdf"
    assert main(["--data-dir", str(data_dir), "print", "--blank", "downtime-registration",
                 "--out", str(pdf)]) == 0
    with Register.open(data_dir, KEY, Settings.load(data_dir)) as register:
        issued = register.list(form_id="downtime-registration")[-1]
    yield pdf, issued


@pytest.mark.parametrize("angle, upside_down", [(2.0, False), (-2.0, True)])
def test_ticks_on_a_scanned_form_are_offered_and_a_keyed_mismatch_is_flagged(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    registration: tuple[Path, IssuedForm], angle: float, upside_down: bool,
) -> None:
    pdf, issued = registration
    layout = scan_layout(issued.extra)
    assert layout is not None
    recorded = {f["field"]: f for f in choice_fields(layout)}
    assert {"dt_sex", "dt_mode", "dt_triage"} <= set(recorded)
    page = pymupdf.open(pdf)[0]
    height = page.rect.height
    wanted = {text: _square_before(page, text)
              for text in ("F Female", "AMB", "2 Very urgent", "3 Urgent")}
    # The renderer recorded the squares where they were drawn (y up, top edge).
    sex_f = next(o for o in recorded["dt_sex"]["options"] if o["value"] == "F")
    left, top, _w, _h = sex_f["box"]
    assert abs(left - wanted["F Female"].x0) < 1
    assert abs(top - (height - wanted["F Female"].y0)) < 1

    image = _rasterise(pdf)[0]
    rng = random.Random(11)
    for square in wanted.values():  # F, AMB, and two triage boxes (a person must look)
        _tick(image, square, rng)
    scan = as_scanned(image, random.Random(5), angle=angle, scale=1.0, upside_down=upside_down)
    imported = _run(capsys, data_dir, "scans", "import",
                    str(save_pdf([scan], tmp_path / "scan.pdf", DPI)))
    assert imported["identified"] == 1

    with Register.open(data_dir, KEY, Settings.load(data_dir)) as register:
        service = KeyingService(EntriesStore(register.work), register, load_catalogue())
        form = service.open(issued.instance_id, "Ann Wyn")
        offered = {a.field_id: s for a, s in form.scan_suggestions().items()}
        assert {k: (s.value, s.note) for k, s in offered.items()} == {
            "dt_sex": ("F", ""), "dt_mode": ("AMB", ""),
            "dt_triage": (None, "ticks in 2 and 3: check the paper")}
        assert service.store.entries(issued.instance_id) == []  # offered, not keyed
        form.confirm_suggestion("arrival", 0, "dt_mode")
        # The planted mismatch: the clerk keys M where the tick is in F.
        notice = form.enter("identity", 0, "dt_sex", "M").notice
        assert notice.startswith("Sex keyed M (Male) but the tick is in F (Female)")
        form.enter("identity", 0, "dt_family", "Pryce")
        (flag,) = service.store.discrepancies(issued.instance_id)
        assert flag.kind is DiscrepancyKind.PAPER_MARK
        assert flag.address == FieldAddress(issued.instance_id, "identity", 0, "dt_sex")
        mode = service.store.entry(FieldAddress(issued.instance_id, "arrival", 0, "dt_mode"),
                                   EntryPass.FIRST)
        assert mode is not None and mode.value == "AMB"

    result = _run(capsys, data_dir, "scans", "check", issued.instance_id)
    (checked,) = result["forms"]
    assert checked["findings"] == [] and checked["columns_checked"] == 0  # no NEWS2 chart
    assert checked["tick_pages_unregistered"] == []
    assert checked["tick_fields_read"] == len(recorded)
    assert [(f["field"], f["keyed"], f["marked"]) for f in checked["tick_findings"]] == [
        ("dt_sex", "M", "F")]
    assert [(u["field"], u["note"]) for u in checked["tick_unclear"]] == [
        ("dt_triage", "ticks in 2 and 3: check the paper")]
    assert result["tick_findings"] == 1 and result["discrepancies_raised"] == 1


def test_ticks_in_a_clinic_list_table_are_read_per_row(
    sample_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Table cells: the outcome boxes of each appointment row are read as that row's."""
    pdf = tmp_path / "clinic.pdf"
    assert main(["--data-dir", str(sample_data_dir), "print", "--clinic", "fracture clinic",
                 "--date", "05-Jan-2026", "--out", str(pdf)]) == 0
    with Register.open(sample_data_dir, KEY, Settings.load(sample_data_dir)) as register:
        issued = register.list(form_id="clinic-list")[-1]
    layout = scan_layout(issued.extra)
    assert layout is not None
    outcomes = sorted((f for f in choice_fields(layout) if f["field"] == "cl_outcome"),
                      key=lambda f: f["row"])
    assert len(outcomes) >= 2
    height = pymupdf.open(pdf)[0].rect.height
    image = _rasterise(pdf)[0]
    rng = random.Random(2)
    for row, code in ((0, "DNA"), (1, "ATT")):  # squares from the recorded layout here
        left, top, width, size = next(o["box"] for o in outcomes[row]["options"]
                                      if o["value"] == code)
        _tick(image, pymupdf.Rect(left, height - top, left + width, height - top + size), rng)
    scan = as_scanned(image, random.Random(8), angle=-1.8, scale=1.01)
    _run(capsys, sample_data_dir, "scans", "import",
         str(save_pdf([scan], tmp_path / "scan.pdf", DPI)))
    with Register.open(sample_data_dir, KEY, Settings.load(sample_data_dir)) as register:
        service = KeyingService(EntriesStore(register.work), register, load_catalogue())
        form = service.open(issued.instance_id, "Ann Wyn")
        offered = {(a.section, a.index, a.field_id): s.value
                   for a, s in form.scan_suggestions().items()}
    section = outcomes[0]["section"]
    assert offered == {(section, 0, "cl_outcome"): "DNA", (section, 1, "cl_outcome"): "ATT"}
