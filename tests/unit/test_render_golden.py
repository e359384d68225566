"""Golden pages: every bundled form rendered blank and (where it can be) pre-filled, with
a fixed patient, a fixed clock and fixed IDs, compared with the PDF kept in tests/golden/.

A self-comparison (render twice, compare) cannot see a layout regression; this can. The
pages are rendered exactly as printed (ReportLab ``invariant=1``: no timestamps or random
document ids), so the page content streams are compared first. Only when those differ
are the pages rasterised and compared pixel by pixel (a ReportLab upgrade may write the
same drawing with other operators); a page that looks different fails, and the new
rendering and a difference image are left in ``tests/golden/_failed/`` to look at.

Regenerate after an intended layout change, then look at every changed page before
committing (docs/forms/README.md, "Golden pages"):

    PF_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_render_golden.py
    .venv/bin/python -m pytest tests/unit/test_render_golden.py --regen-golden

A regenerating run never passes (each test is reported as skipped with "regenerated"),
and test_the_regeneration_flag_is_not_committed refuses a tree that turns it on.
"""

from __future__ import annotations

import io
import os
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pymupdf
import pytest
from pypdf import PdfReader

from paperfallback.cache.store import CacheStore
from paperfallback.formspec import FormCatalogue, FormSpec, load_catalogue
from paperfallback.register import MemoryAllocator
from paperfallback.render import PackRequest, render_pack
from paperfallback.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FAILED = GOLDEN / "_failed"
ROOT = Path(__file__).resolve().parents[2]
FORMS = load_catalogue()
DPI = 50
MAX_CHANGED_PIXELS = 0.0005  # share of pixels allowed to differ (anti-aliasing only)

# The fixed patient and lists of tests/conftest.py's hand-made Cedar Ward cache.
PREFILLED: dict[str, PackRequest] = {
    "patient": PackRequest(patient_ids=("RM100001",), cover_sheet=False),
    "ward": PackRequest(ward="CED", cover_sheet=False),
    "clinic-day": PackRequest(clinic="Fracture clinic"),
    "theatre-day": PackRequest(theatre="Theatre 2"),
}
CASES = [(form.id, "blank") for form in FORMS] + [
    (form.id, "prefilled") for form in FORMS if form.scope in PREFILLED]


def regenerating(config: pytest.Config) -> bool:
    return bool(config.getoption("--regen-golden")) or os.environ.get("PF_REGEN_GOLDEN") == "1"


def _request(spec: FormSpec, variant: str, now: datetime) -> PackRequest:
    if variant == "blank":
        return PackRequest(blank_form=spec.id)
    base = PREFILLED[spec.scope]
    day = now.date() if spec.scope in ("clinic-day", "theatre-day") else None
    return PackRequest(ward=base.ward, patient_ids=base.patient_ids, clinic=base.clinic,
                       theatre=base.theatre, day=day, forms=(spec.id,),
                       cover_sheet=base.cover_sheet)


def _render(spec: FormSpec, variant: str, data_dir: Path, now: datetime) -> bytes:
    """The first page of the form exactly as printed (fixed clock, PC and IDs)."""
    settings = Settings(site_code="DEMO", pc_id="GOLDEN-PC", pc_code="GD")
    buffer = io.BytesIO()
    store = None if variant == "blank" else CacheStore.open(
        data_dir, os.environ["PAPERFALLBACK_KEY"])
    try:
        render_pack(_request(spec, variant, now), store, FormCatalogue([spec]), settings,
                    out=buffer,
                    allocate_ids=MemoryAllocator(pc_code="GD"), now=now)
    finally:
        if store is not None:
            store.close()
    document = pymupdf.open(stream=buffer.getvalue(), filetype="pdf")
    document.select([0])  # one small page per form keeps tests/golden/ small
    return document.tobytes(garbage=4, deflate=True, no_new_id=True)


def _content(pdf: bytes) -> bytes:
    """The drawing of page 1: its content streams, decompressed and joined."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    contents = page.get_contents()
    data = contents.get_data() if contents is not None else b""
    return data if data[:2] != b"x\x9c" else zlib.decompress(data)


def _pixels(pdf: bytes) -> pymupdf.Pixmap:
    page = pymupdf.open(stream=pdf, filetype="pdf")[0]
    return page.get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY, alpha=False)


def _changed_share(a: pymupdf.Pixmap, b: pymupdf.Pixmap) -> float:
    if (a.width, a.height) != (b.width, b.height):
        return 1.0
    changed = sum(1 for x, y in zip(a.samples, b.samples, strict=True) if abs(x - y) > 24)
    return changed / len(a.samples)


@pytest.mark.parametrize(("form_id", "variant"), CASES)
def test_golden_page(form_id: str, variant: str, request: pytest.FixtureRequest,
                     sample_data_dir: Path, sample_as_of: datetime) -> None:
    now = sample_as_of + timedelta(minutes=30)  # fresh data, a fixed clock
    rendered = _render(FORMS.get(form_id), variant, sample_data_dir, now)
    golden = GOLDEN / f"{form_id}-{variant}.pdf"
    if regenerating(request.config):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(rendered)
        pytest.skip(f"regenerated {golden.name}: look at it before committing")
    assert golden.exists(), (
        f"no golden page {golden.name}: run with PF_REGEN_GOLDEN=1, look at it, commit it")
    expected = golden.read_bytes()
    if _content(rendered) == _content(expected):
        return
    share = _changed_share(_pixels(rendered), _pixels(expected))
    if share <= MAX_CHANGED_PIXELS:
        return  # drawn with other operators, looks the same
    FAILED.mkdir(exist_ok=True)
    (FAILED / golden.name).write_bytes(rendered)
    _pixels(rendered).save(str(FAILED / f"{golden.stem}-new.png"))
    _pixels(expected).save(str(FAILED / f"{golden.stem}-golden.png"))
    pytest.fail(f"{golden.name}: {share:.2%} of the page differs from the golden page; "
                f"compare {FAILED.relative_to(ROOT)}/{golden.stem}-new.png with -golden.png "
                "and regenerate only if the change is intended (PF_REGEN_GOLDEN=1)")


def test_every_form_has_a_golden_page_and_no_stale_ones() -> None:
    """A new form gets its golden page; a removed form loses it."""
    kept = {p.name for p in GOLDEN.glob("*.pdf")}
    assert kept == {f"{form_id}-{variant}.pdf" for form_id, variant in CASES}


def test_a_layout_change_fails_the_comparison(sample_data_dir: Path,
                                              sample_as_of: datetime) -> None:
    """The check itself: a field moved by a few millimetres is caught."""
    spec = FORMS.get(FORMS.ids()[0])
    now = sample_as_of + timedelta(minutes=30)
    rendered = _render(spec, "blank", sample_data_dir, now)
    moved = spec.model_copy(update={"page": spec.page.model_copy(
        update={"margin_mm": spec.page.margin_mm + 3})})
    other = _render(moved, "blank", sample_data_dir, now)
    assert _content(rendered) != _content(other)
    assert _changed_share(_pixels(rendered), _pixels(other)) > MAX_CHANGED_PIXELS


def test_the_regeneration_flag_is_not_committed() -> None:
    """Regenerating is a deliberate local act: no committed config or CI script turns it
    on (as fpdf2's pre-commit check refuses ``generate=True``)."""
    places = [ROOT / "pyproject.toml", *ROOT.glob(".ci/*"), *ROOT.glob("scripts/*"),
              *ROOT.glob(".github/workflows/*")]
    for path in places:
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "PF_REGEN_GOLDEN" not in text and "--regen-golden" not in text, path
    assert os.environ.get("CI") is None or os.environ.get("PF_REGEN_GOLDEN") != "1"
