"""The real SMART/Synthea sample (10-patient Bulk Data export, Apache 2.0, see
tests/fixtures/synthea-bulk-10/LICENSE): 3 of its 13 patients are deceased; one, who died
in 1989, printed as "99 y" with an active drug chart from 1977 (issue 13, item 4). They
must never be on a list as current, and printed explicitly every page says DECEASED."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from paperfallback.cache.importers import read_extract
from paperfallback.cache.importers.policy import EVERYTHING
from paperfallback.cli.main import main

SAMPLE = Path(__file__).parents[1] / "fixtures" / "synthea-bulk-10"
FILES = [SAMPLE / f"{kind}.000.ndjson" for kind in ("Patient", "Encounter", "MedicationRequest")]
DIED_1989 = "129c6ac7-8d06-89de-ad63-0204a93e76c3"  # MR identifier = hospital number


def test_deceased_synthea_patients_are_on_no_ward_list_even_with_old_stays_kept() -> None:
    snap = read_extract(FILES, policy=EVERYTHING)  # finished inpatient stays kept too
    dead = {p.id for p in snap.patients if p.deceased}
    assert len(dead) == 3 and snap.counts()["deceased"] == 3
    assert snap.stays and not {s.patient_id for s in snap.stays} & dead
    assert snap.skipped["current stay of a deceased patient (not on any ward list)"] >= 1


def test_printing_a_deceased_patient_says_deceased_on_every_page(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "import", *map(str, FILES)]) == 0
    summary = capsys.readouterr().out
    assert "13 patients, 3 deceased" in summary
    out = tmp_path / "mar.pdf"
    assert main(["print", "--patient", DIED_1989, "--forms", "mar,news2",
                 "--out", str(out)]) == 0
    with pymupdf.open(out) as doc:
        pages = [" ".join(page.get_text().split()) for page in doc]
    assert len(pages) >= 2
    for text in pages:
        # 1989-05-09T20:35:22-04:00 is 01:35 on 10 May in UK local time
        assert "DECEASED 10-May-1989" in text
        assert "99 y" not in text and "(99" not in text
        assert DIED_1989 in text  # the hospital number, from the identifier typed MR


def test_patient_search_says_deceased(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "import", *map(str, FILES)]) == 0
    capsys.readouterr()
    assert main(["patients", "--search", "medhurst"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "MEDHURST" in x)
    assert line.startswith("DECEASED")
    assert main(["patients", "--search", "medhurst", "--json"]) == 0
    assert '"deceased_date": "1989-05-10"' in capsys.readouterr().out


def test_the_all_patients_list_shows_deceased_not_an_age(data_dir: Path) -> None:
    import os

    from paperfallback.cache.store import CacheStore
    from paperfallback.cache.ward_summary import ALL_WARDS, ward_summaries

    with CacheStore.open(data_dir, os.environ["PAPERFALLBACK_KEY"]) as store:
        store.replace_snapshot(read_extract(FILES))
        rows = {r.patient_id: r for r in ward_summaries(store, ALL_WARDS)}
    assert rows[DIED_1989].deceased == "DECEASED 10-May-1989"
    assert rows[DIED_1989].age_years is None
    assert sum(1 for r in rows.values() if r.deceased) == 3
    assert all(r.age_years is not None for r in rows.values() if not r.deceased)
