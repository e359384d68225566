"""The encrypted cache: encryption at rest, wrong key, atomic replacement, the partial
extract guard, staleness and search."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import ImportRefused, InputError, InvalidNhsNumber, WrongKey
from paperfallback.domain.records import (
    Allergy,
    AllergyStatus,
    Observation,
    ObservationKind,
    Patient,
    Sex,
    Snapshot,
    Stay,
    Ward,
)

KEY = "a-test-key"
AS_OF = datetime(2018, 1, 24, 9, 30, tzinfo=UTC)


def _snapshot(n: int = 6, *, as_of: datetime = AS_OF) -> Snapshot:
    names = [("Llŷr-Pritchard", "Gwenllïan"), ("Wójcik", "Łukasz"), ("Öztürk", "Elif"),
             ("Smith", "Richard"), ("Ap Gruffydd", "Dafydd"), ("Smyth", "Siân")]
    patients, stays = [], []
    for i in range(n):
        family, given = names[i % len(names)]
        patients.append(Patient(
            id=f"p{i}", nhs_number=None if i == 3 else _nhs(i), hospital_number=f"RM{1000 + i}",
            family=family, given=given, birth_date=date(1940 + i, 3, 1), sex=Sex.FEMALE,
        ))
        stays.append(Stay(id=f"e{i}", patient_id=f"p{i}", ward_code="W7", bed=f"Bed {n - i}"))
    return Snapshot(
        data_as_of=as_of, as_of_source="option", patients=tuple(patients),
        wards=(Ward("W7", "Dewi Sant"),), stays=tuple(stays),
        allergies=(Allergy("a1", "p0", "Penicillin", reaction="Rash"),
                   Allergy("a2", "p1", "No known allergies", no_known_allergies=True)),
        observations=(Observation("o1", "p0", ObservationKind.PULSE, as_of, 88.0, unit="/min"),),
        spo2_scale={"p2": 2},
    )


def _nhs(i: int) -> str:
    from paperfallback.domain.nhs_number import check_digit

    n = 999_000_100 + i * 7
    while check_digit(f"{n:09d}") is None:
        n += 1
    return f"{n:09d}{check_digit(f'{n:09d}')}"


@pytest.fixture
def store(tmp_path: Path) -> CacheStore:
    s = CacheStore.open(tmp_path, KEY)
    s.replace_snapshot(_snapshot())
    return s


def test_file_holds_no_name_or_nhs_number_in_clear(store: CacheStore, tmp_path: Path) -> None:
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("cache.db"))
    for needle in ("Pritchard", "Wójcik", _nhs(0), "RM1000", "Penicillin"):
        assert needle.encode() not in raw
        assert needle.encode("utf-16-le") not in raw


def test_wrong_key_fails_cleanly_and_changes_nothing(store: CacheStore, tmp_path: Path) -> None:
    store.close()
    before = (tmp_path / "cache.db").read_bytes()
    with pytest.raises(WrongKey, match="key is wrong"):
        CacheStore.open(tmp_path, "not-the-key")
    assert (tmp_path / "cache.db").read_bytes() == before
    with CacheStore.open(tmp_path, KEY) as again:
        assert len(again.patients()) == 6


def test_corrupt_file_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cache.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(WrongKey, match="damaged"):
        CacheStore.open(tmp_path, KEY)


def test_failed_replacement_keeps_previous_snapshot(store: CacheStore) -> None:
    broken = Snapshot(
        data_as_of=AS_OF + timedelta(hours=1), as_of_source="option",
        patients=_snapshot().patients,
        allergies=(Allergy("x", "nobody", "Latex"),),
    )
    with pytest.raises(InputError, match="nobody"):
        store.replace_snapshot(broken)
    status = store.status(now=AS_OF)
    assert status.data_as_of == AS_OF
    assert len(store.patients(ward_code="W7")) == 6


def test_partial_extract_refused_unless_forced(store: CacheStore) -> None:
    small = _snapshot(2, as_of=AS_OF + timedelta(hours=1))
    with pytest.raises(ImportRefused, match="2 patients against 6"):
        store.replace_snapshot(small)
    assert store.status(now=AS_OF).counts["patients"] == 6
    store.replace_snapshot(small, force=True)
    assert store.status(now=AS_OF).counts["patients"] == 2


def test_drop_within_threshold_is_accepted(store: CacheStore) -> None:
    store.replace_snapshot(_snapshot(3), max_drop_share=0.5)
    assert len(store.patients()) == 3


def test_staleness_threshold(store: CacheStore) -> None:
    fresh = store.status(stale_minutes=60, now=AS_OF + timedelta(minutes=59))
    stale = store.status(stale_minutes=60, now=AS_OF + timedelta(minutes=61))
    assert not fresh.is_stale
    assert stale.is_stale
    assert stale.to_json()["stale"] is True
    assert stale.to_json()["age_minutes"] == 61.0
    assert stale.freshness is not None and stale.freshness.age_text == "1 hour 1 min"


def test_no_snapshot_is_reported_as_such(tmp_path: Path) -> None:
    with CacheStore.open(tmp_path, KEY) as empty:
        status = empty.status()
        assert not status.has_snapshot
        assert status.is_stale
        assert status.to_json()["data_as_of"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("llyr", {"p0"}),  # accents and case ignored
        ("Llŷr-P", {"p0"}),
        ("wojc", {"p1"}),
        ("sm", {"p3", "p5"}),
        ("siân", {"p5"}),
        ("smyth, si", {"p5"}),
        ("rm1002", {"p2"}),
        ("RM 1002", {"p2"}),
    ],
)
def test_search_by_name_prefix_and_hospital_number(
    store: CacheStore, query: str, expected: set[str]
) -> None:
    assert {r.patient.id for r in store.patients(search=query)} == expected


def test_search_by_nhs_number_with_spaces(store: CacheStore) -> None:
    nhs = _nhs(1)
    spaced = f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
    assert [r.patient.id for r in store.patients(search=spaced)] == ["p1"]
    assert "p1" in {r.patient.id for r in store.patients(search=nhs[:6])}


def test_patients_in_natural_bed_order(store: CacheStore) -> None:
    beds = [r.stay.bed for r in store.patients(ward_code="W7") if r.stay]
    assert beds == ["Bed 1", "Bed 2", "Bed 3", "Bed 4", "Bed 5", "Bed 6"]


def test_ward_resolved_by_code_or_name_any_case(store: CacheStore) -> None:
    assert store.resolve_ward("w7").code == "W7"
    assert store.resolve_ward("dewi sant").code == "W7"
    with pytest.raises(InputError, match="Dewi Sant"):
        store.resolve_ward("Ward 99")


def test_patient_record_keeps_allergy_states_apart(store: CacheStore) -> None:
    assert store.patient_record("p0").allergy_status is AllergyStatus.RECORDED
    assert store.patient_record("p1").allergy_status is AllergyStatus.NONE_KNOWN
    assert store.patient_record("p2").allergy_status is AllergyStatus.NOT_RECORDED
    assert store.patient_record("p2").spo2_scale == 2
    record = store.patient_record("p0")
    assert record.observations[0].value == 88.0
    assert record.ward is not None and record.ward.name == "Dewi Sant"


def test_find_patient_by_nhs_or_hospital_number(store: CacheStore) -> None:
    assert store.find_patient(_nhs(4)).id == "p4"
    assert store.find_patient("rm1003").id == "p3"
    with pytest.raises(InputError, match="no patient"):
        store.find_patient("9990000018")


def test_find_patient_refuses_an_ambiguous_number(tmp_path: Path) -> None:
    """Two patients share a number (a duplicate registration, or one patient's hospital
    number equal to another's): never pick one silently."""
    snap = _snapshot()
    twin = Patient(id="p9", nhs_number=_nhs(4), hospital_number="RM9999", family="Jones",
                   given="Ffion", birth_date=date(1950, 1, 1), sex=Sex.FEMALE)
    with CacheStore.open(tmp_path, KEY) as store:
        store.replace_snapshot(Snapshot(
            data_as_of=AS_OF, as_of_source="option", patients=(*snap.patients, twin),
            wards=snap.wards, stays=snap.stays,
        ))
        with pytest.raises(InputError, match="2 patients in the cache match"):
            store.find_patient(_nhs(4))
        assert store.find_patient("RM9999").id == "p9"


def test_find_patient_says_when_the_check_digit_is_wrong(store: CacheStore) -> None:
    good = _nhs(4)
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    with pytest.raises(InvalidNhsNumber, match="check digit is wrong"):
        store.find_patient(bad[:3] + " " + bad[3:6] + " " + bad[6:])


def test_refresh_log_feeds_monitoring(store: CacheStore) -> None:
    store.record_refresh(ok=True, source="folder")
    store.record_refresh(ok=False, source="folder", message="manifest lists a missing file")
    status = store.status().to_json()
    assert status["last_refresh_failed"] is True
    assert status["last_successful_refresh"] is not None
    assert status["last_refresh_message"] == "manifest lists a missing file"


def test_search_limit_cuts_in_sql_and_keeps_bed_order(store: CacheStore) -> None:
    limited = store.patients(ward_code="W7", limit=3)
    assert len(limited) == 3
    beds = [r.stay.bed for r in limited if r.stay]
    assert beds == sorted(beds, key=lambda b: int(b.split()[1]))


def test_patient_ids_match_the_full_search(store: CacheStore) -> None:
    for query in ("llyr", "sm", "rm1002", _nhs(1)[:6]):
        expected = {r.patient.id for r in store.patients(search=query)}
        assert store.patient_ids(search=query) == expected
