"""Names with invisible characters (issue 13, item 5): zero-width and bidirectional
control characters are stripped and names put in NFC for search and print; the name as
received stays in the cache."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from paperfallback.cache.importers import read_extract
from paperfallback.cache.search_keys import fold
from paperfallback.cache.store import CacheStore
from paperfallback.domain.names import clean_name

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DECOMPOSED = unicodedata.normalize("NFD", "Gwenllïan")


def test_clean_name_strips_invisible_characters_and_composes() -> None:
    assert clean_name("Jo\u200bnes\u200d") == "Jones"
    assert clean_name("\u202eAli\u202c \u2066Khan\u2069") == "Ali Khan"
    assert clean_name("\ufeffO\u00adBrien\u200e") == "OBrien"
    assert clean_name(DECOMPOSED) == "Gwenllïan" and len(clean_name(DECOMPOSED)) == 9
    assert clean_name("  Mary \t\n Ann  ") == "Mary Ann"
    assert fold("Jo\u200bnes") == "jones"


def test_imported_names_are_clean_searchable_and_the_original_kept(
        tmp_path: Path, data_dir: Path) -> None:
    p = {"resourceType": "Patient", "id": "p1",
         "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000026"}],
         "name": [{"family": "Jo\u200bnes", "given": ["\u202e" + DECOMPOSED]}]}
    f = tmp_path / "Patient.ndjson"
    f.write_text(json.dumps(p) + "\n", encoding="utf-8")
    snap = read_extract([f], now=NOW)
    patient = snap.patients[0]
    assert (patient.family, patient.given) == ("Jones", "Gwenllïan")
    assert patient.family_as_received == "Jo\u200bnes"
    assert patient.given_as_received == "\u202e" + DECOMPOSED
    assert patient.display_name == "JONES, Gwenllïan"
    with CacheStore.open(data_dir, "test-key-not-secret") as store:
        store.replace_snapshot(snap)
        assert [r.patient.id for r in store.patients(search="jones")] == ["p1"]
        assert [r.patient.id for r in store.patients(search="gwenllian")] == ["p1"]
        kept = store.find_patient("9990000026")
        assert kept.family_as_received == "Jo\u200bnes"


def test_csv_names_are_cleaned_too(tmp_path: Path) -> None:
    f = tmp_path / "patients.csv"
    f.write_text("id,family,given\np1,Jo\u200bnes,\u2067Ali\n", encoding="utf-8")
    patient = read_extract([f], now=NOW).patients[0]
    assert (patient.family, patient.given) == ("Jones", "Ali")
    assert patient.family_as_received == "Jo\u200bnes"


def test_a_clean_name_keeps_no_copy() -> None:
    assert clean_name("Prys") == "Prys"
