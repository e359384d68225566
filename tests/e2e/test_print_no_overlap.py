"""No text on any printed page is drawn over other text.

A section that does not fit the space left must move to the next page; drawn over the
omission-code legend or the footer, a MAR's once-only heading and the patient's footer
identifiers became unreadable (found by looking at a rendered MAR).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pymupdf
import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main

FORMS = ("handover", "news2", "mar", "fluid-balance", "continuation")
BLANK = ("news2", "mar", "fluid-balance", "downtime-registration", "continuation")


def _overlaps(pdf: Path) -> list[str]:
    found = []
    with pymupdf.open(pdf) as doc:
        for number, page in enumerate(doc, start=1):
            lines = [
                (pymupdf.Rect(line["bbox"]), "".join(s["text"] for s in line["spans"]).strip())
                for block in page.get_text("dict")["blocks"]
                for line in block.get("lines", [])
            ]
            lines = [(rect, text) for rect, text in lines if text]
            for (r1, t1), (r2, t2) in itertools.combinations(lines, 2):
                inter = r1 & r2
                smaller = min(r1.get_area(), r2.get_area())
                if not inter.is_empty and smaller and inter.get_area() / smaller > 0.2:
                    found.append(f"page {number}: {t1[:30]!r} over {t2[:30]!r}")
    return found


@pytest.mark.slow
def test_ward_pack_blank_forms_and_lists_have_no_overlapping_text(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    pdfs = [tmp_path / "ward.pdf"]
    assert main(["print", "--ward", "w3", "--forms", ",".join(FORMS), "--out", str(pdfs[0])]) == 0
    for form in BLANK:
        pdfs.append(tmp_path / f"blank-{form}.pdf")
        assert main(["print", "--blank", form, "--count", "1", "--out", str(pdfs[-1])]) == 0
    with CacheStore.open(demo_data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        clinic = store.clinics()[0]
        clinic_day = store.appointment_days(clinic)[0]
        theatre = store.theatres()[0]
        theatre_day = store.theatre_days(theatre)[0]
    pdfs.append(tmp_path / "clinic.pdf")
    assert main(["print", "--clinic", clinic, "--date", clinic_day.isoformat(),
                 "--out", str(pdfs[-1])]) == 0
    pdfs.append(tmp_path / "theatre.pdf")
    assert main(["print", "--theatre", theatre, "--date", theatre_day.isoformat(),
                 "--out", str(pdfs[-1])]) == 0
    problems = [f"{pdf.name} {p}" for pdf in pdfs for p in _overlaps(pdf)]
    assert problems == [], json.dumps(problems[:10], ensure_ascii=False)
