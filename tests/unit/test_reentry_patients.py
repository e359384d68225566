"""Blank forms: the handwritten patient is matched to the cache by NHS number or by
name + date of birth (accents ignored), never guessed; else a downtime patient."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError
from paperfallback.domain.records import Patient, Snapshot
from paperfallback.reentry.patients import identify_blank_form, match_patient
from paperfallback.reentry.store import EntriesStore

KEY = "test-key-not-secret"


@pytest.fixture
def cache(data_dir: Path) -> CacheStore:
    store = CacheStore.open(data_dir, KEY)
    store.replace_snapshot(Snapshot(
        data_as_of=datetime(2026, 11, 24, 8, 0, tzinfo=UTC), as_of_source="option",
        patients=(
            Patient("p1", "9990000018", "RM100001", "Ap Gwŷn-Łopez", "Siân", date(1948, 3, 2)),
            Patient("p2", None, "RM100002", "Jones", "Ffion", date(1975, 1, 12)),
            Patient("p3", None, "RM100003", "Jones", "Ffion", date(1975, 1, 12)),
        ),
    ), force=True)
    return store


def test_match_by_nhs_number_then_name_and_birth_date(cache: CacheStore) -> None:
    assert match_patient(cache, nhs_number="999 000 0018").how == "nhs_number"
    found = match_patient(cache, family="AP GWYN-LOPEZ", given="sian", birth_date=date(1948, 3, 2))
    assert found.patient is not None and found.patient.id == "p1"
    assert found.how == "name_and_birth_date"
    assert not match_patient(cache, family="Ap Gwŷn-Łopez", given="Siân",
                             birth_date=date(1948, 3, 3)).found
    twins = match_patient(cache, family="Jones", given="Ffion", birth_date=date(1975, 1, 12))
    assert not twins.found and len(twins.candidates) == 2
    assert match_patient(cache, hospital_number="rm100003").how == "hospital_number"


def test_identify_links_or_records_a_downtime_patient(cache: CacheStore, data_dir: Path) -> None:
    store = EntriesStore.open(data_dir, KEY)
    store.ensure_instance("T1-00001-X", "news2")
    match = identify_blank_form(store, cache, instance_id="T1-00001-X", downtime_number=None,
                                clerk="Ann", nhs_number="9990000018")
    assert match.found
    record = store.instance("T1-00001-X")
    assert record is not None and record.patient_id == "p1"
    assert record.patient_match == "nhs_number"
    with pytest.raises(InputError, match="2 patients are called JONES, Ffion"):
        identify_blank_form(store, cache, instance_id="T1-00001-X", downtime_number=None,
                            clerk="Ann", family="Jones", given="Ffion",
                            birth_date=date(1975, 1, 12))
    store.ensure_instance("T1-00002-X", "downtime-registration")
    new = identify_blank_form(store, cache, instance_id="T1-00002-X",
                              downtime_number="DT-T1-00001-Q", clerk="Ann", family="Öztürk",
                              given="Zoë", birth_date=date(2001, 4, 22))
    assert new.how == "downtime:DT-T1-00001-Q"
    (patient,) = store.downtime_patients()
    assert (patient.family, patient.given, patient.birth_date) == ("Öztürk", "Zoë", "2001-04-22")
    with pytest.raises(InputError, match="no downtime number"):
        identify_blank_form(store, cache, instance_id="T1-00001-X", downtime_number=None,
                            clerk="Ann", family="Nobody", given="Here",
                            birth_date=date(1990, 1, 1))
