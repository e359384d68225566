"""CSV/xlsx extracts read a row at a time into the cache (issue 15, goal 3): memory does not
grow with the tables, a fact is kept whichever file comes first, and a duplicate id is
still refused naming both rows however far apart they are."""

from __future__ import annotations

import csv
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook

from paperfallback.cache.importers import read_extract
from paperfallback.cache.importers.tabular import ID_BATCH
from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
KEY = "test-key-not-secret"


def _tables(folder: Path, patients: int, per_patient: int = 20) -> Path:
    folder.mkdir(parents=True)
    with (folder / "observations.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "patient_id", "kind", "effective", "value"])
        for n in range(patients):
            for k in range(per_patient):
                when = NOW - timedelta(minutes=30 * (k + 1))
                out.writerow([f"o{n}-{k}", f"p{n}", "pulse", when.isoformat(), "80"])
    with (folder / "patients.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "hospital_number", "family", "given"])
        out.writerows([f"p{n}", f"H{n:06d}", f"FAMILY{n}", "Given"] for n in range(patients))
    return folder


def test_import_memory_does_not_grow_with_the_tables(tmp_path: Path) -> None:
    """Peak traced memory of a CSV import into the cache, 150 and 600 patients (20
    observations each): the same within a margin (before: every row held, and every id
    in a dict, until the tables were read)."""

    def peak(patients: int) -> int:
        extract = _tables(tmp_path / f"x{patients}", patients)
        data = tmp_path / f"d{patients}"
        data.mkdir()
        with CacheStore.open(data, KEY) as store:
            tracemalloc.start()
            result = store.import_extract([extract], force=True, now=NOW)
            _, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert result.counts["observations"] == patients * 20
        return top

    small, large = peak(150), peak(600)
    assert large < small * 1.5, (small, large)


def test_facts_are_kept_when_their_file_comes_before_the_patients_table(
    tmp_path: Path,
) -> None:
    extract = _tables(tmp_path / "x", 3, per_patient=2)
    files = [extract / "observations.csv", extract / "patients.csv"]
    snap = read_extract(files, now=NOW)
    assert len(snap.observations) == 6 and len(snap.patients) == 3
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "observations"
    sheet.append(["patient_id", "kind", "effective", "value"])
    sheet.append(["p1", "pulse", (NOW - timedelta(hours=1)).isoformat(), "72"])
    sheet.append(["p9", "pulse", (NOW - timedelta(hours=1)).isoformat(), "72"])
    patients = book.create_sheet("patients")
    patients.append(["id", "family"])
    patients.append(["p1", "JONES"])
    book.save(tmp_path / "extract.xlsx")
    snap = read_extract([tmp_path / "extract.xlsx"], now=NOW)
    assert [o.patient_id for o in snap.observations] == ["p1"]
    assert snap.skipped["observations row about a patient not in the patients table"] == 1


def test_a_duplicate_id_far_apart_is_refused_naming_both_rows(tmp_path: Path) -> None:
    extract = _tables(tmp_path / "x", ID_BATCH // 5 + 10)  # more rows than one id batch
    rows = (extract / "observations.csv").read_text().splitlines()
    rows[-1] = "o0-1" + rows[-1][rows[-1].index(","):]  # the last row reuses row 3's id
    (extract / "observations.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError) as caught:
        read_extract([extract], now=NOW)
    message = str(caught.value)
    assert f"observations.csv:{len(rows)}" in message and "observations.csv:3" in message
    assert "two observations rows with id 'o0-1'" in message


def test_a_duplicate_id_is_told_before_a_bad_value_further_down(tmp_path: Path) -> None:
    """The first problem in file order is the one told, as when rows were held whole."""
    extract = _tables(tmp_path / "x", 4)
    rows = (extract / "observations.csv").read_text().splitlines()
    rows[5] = "o0-1" + rows[5][rows[5].index(","):]  # row 6 repeats row 3's id
    rows[40] = rows[40].rsplit(",", 1)[0] + ",eighty"  # row 41: not a number
    (extract / "observations.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"observations.csv:6.*two observations rows"):
        read_extract([extract], now=NOW)
    rows[5] = "o9-9" + rows[5][rows[5].index(","):]
    (extract / "observations.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"observations.csv:41, column 'value'"):
        read_extract([extract], now=NOW)


def test_a_bundle_file_too_large_to_read_whole_is_refused_pointing_to_ndjson(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Bundle is one JSON document, read whole (its text kept to place errors on a
    line): past the limit it is refused before reading, naming the file and what to do;
    the same resources as NDJSON import whatever their size."""
    import json

    patients = [{"resourceType": "Patient", "id": f"p{n}",
                 "name": [{"family": f"FAMILY{n}", "given": ["Given"]}]} for n in range(40)]
    bundle = tmp_path / "extract.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": p} for p in patients]}))
    ndjson = tmp_path / "nd" / "Patient.ndjson"
    ndjson.parent.mkdir()
    ndjson.write_text("".join(json.dumps(p) + "\n" for p in patients))
    assert len(read_extract([bundle], now=NOW).patients) == 40
    monkeypatch.setattr("paperfallback.cache.importers.fhir_files.MAX_JSON_FILE_BYTES",
                        bundle.stat().st_size - 1)
    with pytest.raises(InputError, match=r"read whole.*Bulk Data NDJSON") as caught:
        read_extract([bundle], now=NOW)
    assert str(bundle) in str(caught.value)
    assert len(read_extract([ndjson.parent], now=NOW).patients) == 40


def test_a_csv_extract_broken_at_its_end_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    """Rows now go into the cache as they are read: a bad row (or a file cut short) after
    thousands of good ones must still leave the cache as it was (one transaction)."""
    good = _tables(tmp_path / "good", 20)
    data = tmp_path / "cache"
    data.mkdir()
    with CacheStore.open(data, KEY) as store:
        store.import_extract([good], force=True, now=NOW)
        before = [store._conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                  for t in ("patients", "facts")]
        broken = _tables(tmp_path / "broken", 300)
        rows = (broken / "observations.csv").read_text().splitlines()
        rows[-1] = rows[-1][:15]  # cut short mid-row: "o299-19,p299,pu"
        (broken / "observations.csv").write_text("\n".join(rows))
        with pytest.raises(InputError, match=rf"observations.csv:{len(rows)}"):
            store.import_extract([broken], force=True, now=NOW)
        after = [store._conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                 for t in ("patients", "facts")]
        assert after == before and len(before[0]) == 20
