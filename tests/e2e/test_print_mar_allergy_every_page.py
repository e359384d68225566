"""Audit defect: page 2 of a MAR carried no allergy status, so a nurse giving a dose from
a continuation page could not see it. Every page of a pre-filled MAR must show the
recorded allergies, "No known allergies" or "Allergies not recorded — check with patient"
(the same wording as the page-1 allergy box)."""

from __future__ import annotations

import os
from pathlib import Path

import pymupdf

from paperfallback.cache.store import CacheStore
from paperfallback.cli.main import main
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.domain.records import AllergyStatus
from paperfallback.render.prefill import ALLERGIES_NOT_RECORDED, NO_KNOWN_ALLERGIES


def test_every_page_of_a_ward_mar_shows_the_patients_allergy_status(
        demo_data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mar.pdf"
    assert main(["print", "--ward", "w3", "--forms", "mar", "--no-cover",
                 "--out", str(out)]) == 0
    expected: dict[str, list[str]] = {}
    with CacheStore.open(demo_data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        for record in store.ward_records(store.resolve_ward("w3").code):
            nhs = format_nhs_number(record.patient.nhs_number)
            if not nhs:
                continue
            if record.allergy_status is AllergyStatus.RECORDED:
                expected[nhs] = [a.substance for a in record.true_allergies]
            elif record.allergy_status is AllergyStatus.NONE_KNOWN:
                expected[nhs] = [NO_KNOWN_ALLERGIES]
            else:
                expected[nhs] = [ALLERGIES_NOT_RECORDED]
    checked = continuation = 0
    statuses = set()
    with pymupdf.open(out) as doc:
        for number, page in enumerate(doc, start=1):
            text = " ".join(page.get_text().split())
            nhs = next((n for n in expected if f"NHS {n}" in text), None)
            if nhs is None:
                continue
            for wording in expected[nhs]:
                assert " ".join(wording.split()) in text, (number, nhs, wording)
            checked += 1
            statuses.add(expected[nhs][0] if len(expected[nhs]) == 1 else "recorded")
            continuation += "Page 1 of" not in text
    assert continuation >= 1 and checked >= 2
    assert len(statuses) >= 2  # more than one kind of status was checked
