"""The synthetic demo hospital: deterministic, synthetic-only identifiers, realistic mix."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperfallback.cache.demo import FULL_WARD_BEDS, FULL_WARD_CODE, write_demo_extract
from paperfallback.cache.importers import read_extract
from paperfallback.domain.news2 import News2Observation, score
from paperfallback.domain.nhs_number import is_test_number, is_valid
from paperfallback.domain.records import ObservationKind, PrescriptionKind, Snapshot

NOW = datetime(2026, 1, 14, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    folder = write_demo_extract(tmp_path_factory.mktemp("demo"), seed=7, now=NOW)
    return read_extract([folder])


def test_same_seed_same_hospital_other_seed_other(tmp_path: Path) -> None:
    a = read_extract([write_demo_extract(tmp_path / "a", seed=11, now=NOW)])
    b = read_extract([write_demo_extract(tmp_path / "b", seed=11, now=NOW)])
    c = read_extract([write_demo_extract(tmp_path / "c", seed=12, now=NOW)])
    assert a.patients == b.patients and a.observations == b.observations
    assert a.prescriptions == b.prescriptions and a.appointments == b.appointments
    assert [p.family for p in a.patients] != [p.family for p in c.patients]


def test_fresh_demo_is_as_of_now(demo: Snapshot) -> None:
    assert (demo.data_as_of, demo.as_of_source) == (NOW, "manifest.transactionTime")
    assert not demo.skipped


def test_nhs_numbers_only_from_the_test_range(demo: Snapshot) -> None:
    numbers = [p.nhs_number for p in demo.patients if p.nhs_number]
    assert numbers and all(is_valid(n) and is_test_number(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert any(p.nhs_number is None for p in demo.patients)  # a few never registered


def test_names_include_non_ascii_and_long_double_barrelled(demo: Snapshot) -> None:
    text = " ".join(f"{p.given} {p.family}" for p in demo.patients)
    for letter in "ŵŷâïłöéñ":
        assert letter in text, letter
    assert any("-" in p.family and len(p.family) >= 20 for p in demo.patients)


def test_wards_beds_and_all_three_allergy_states_on_every_ward(demo: Snapshot) -> None:
    assert len(demo.wards) >= 3
    assert all(" — " in w.name for w in demo.wards)
    by_ward: dict[str, list[str]] = defaultdict(list)
    for stay in demo.stays:
        by_ward[stay.ward_code].append(stay.patient_id)
        assert stay.bed and stay.consultant and stay.admitted_at
    nka = {a.patient_id for a in demo.allergies if a.no_known_allergies}
    recorded = {a.patient_id for a in demo.allergies if not a.no_known_allergies}
    for ward in demo.wards:
        patients = set(by_ward[ward.code])
        assert 20 <= len(patients) <= 30
        assert patients & recorded and patients & nka and patients - recorded - nka


def test_first_ward_is_the_full_28_bed_ward_of_the_benchmarks(demo: Snapshot) -> None:
    first = FULL_WARD_CODE
    assert demo.wards[0].code == first
    stays = [s for s in demo.stays if s.ward_code == first]
    assert FULL_WARD_BEDS == 28
    assert len(stays) == len({s.bed for s in stays}) == 28  # every bed occupied, once
    assert {s.bed for s in stays} == {f"Bed {n}" for n in range(1, 25)} | {
        f"Side room {n}" for n in range(1, 5)}
    others = [w.code for w in demo.wards if w.code != first]
    assert all(20 <= sum(s.ward_code == w for s in demo.stays) <= 30 for w in others)


def test_prescriptions_mix(demo: Snapshot) -> None:
    per_patient = Counter(p.patient_id for p in demo.prescriptions)
    assert all(3 <= n <= 12 for n in per_patient.values())
    assert set(per_patient) == {s.patient_id for s in demo.stays}
    kinds = Counter(p.kind for p in demo.prescriptions)
    assert all(kinds[k] for k in PrescriptionKind)
    assert all(p.dose_times for p in demo.prescriptions if p.kind is PrescriptionKind.REGULAR)
    assert all(p.prn_indication and p.prn_max_24h
               for p in demo.prescriptions if p.kind is PrescriptionKind.PRN)


def test_observations_spread_news2_on_both_scales(demo: Snapshot) -> None:
    assert set(demo.spo2_scale.values()) == {1, 2}
    totals = [o.value for o in demo.observations if o.kind is ObservationKind.NEWS2_TOTAL]
    assert min(totals or [99]) <= 2 and max(totals or [0]) >= 7
    assert all(o.effective >= NOW - timedelta(hours=72) for o in demo.observations)
    # the written NEWS2 total agrees with our own scoring of the same set
    sets: dict[tuple[str, datetime], dict[ObservationKind, object]] = defaultdict(dict)
    for o in demo.observations:
        sets[(o.patient_id, o.effective)][o.kind] = o.text or o.value
    pid, when = next(iter(sets))
    s = sets[(pid, when)]
    computed = score(News2Observation(
        float(s[ObservationKind.RESP_RATE]), float(s[ObservationKind.SPO2]),  # type: ignore[arg-type]
        str(s[ObservationKind.OXYGEN]), float(s[ObservationKind.SBP]),  # type: ignore[arg-type]
        float(s[ObservationKind.PULSE]), str(s[ObservationKind.ACVPU]),  # type: ignore[arg-type]
        float(s[ObservationKind.TEMP]), spo2_scale=demo.spo2_scale[pid]))  # type: ignore[arg-type]
    assert computed.total == s[ObservationKind.NEWS2_TOTAL]


def test_clinics_with_phones_and_theatre_lists(demo: Snapshot) -> None:
    clinics = {a.clinic for a in demo.appointments}
    days = {a.start.date() for a in demo.appointments}
    assert len(clinics) >= 4 and len(days) >= 5
    patients = {p.id: p for p in demo.patients}
    for appt in demo.appointments:
        patient = patients[appt.patient_id]
        assert patient.phones and patient.next_of_kin[0].phone
    theatres = {(c.theatre, c.session_date) for c in demo.theatre_cases}
    assert len({t for t, _ in theatres}) >= 2
    assert all(d > NOW.date() for _, d in theatres)
    assert all(c.surgeon and c.anaesthetist and c.procedure for c in demo.theatre_cases)


def test_alerts_include_resuscitation_and_infection(demo: Snapshot) -> None:
    texts = " ".join(a.text for a in demo.alerts)
    assert "DNACPR" in texts and "MRSA" in texts and "falls" in texts


# A penicillin allergy rules out every penicillin (amoxicillin, co-amoxiclav, ...): BNF,
# "Penicillins: contra-indications". Written here, independently of the demo's own table.
CONFLICTS = {"penicillin": ("penicillin", "amoxicillin", "co-amoxiclav", "flucloxacillin",
                            "piperacillin", "benzylpenicillin", "phenoxymethylpenicillin"),
             "codeine": ("codeine", "co-codamol"), "ibuprofen": ("ibuprofen",),
             "trimethoprim": ("trimethoprim",)}


@pytest.mark.parametrize("seed", [7, 2018])
def test_no_patient_is_prescribed_what_they_are_allergic_to(
        seed: int, tmp_path: Path) -> None:
    """Issue #13 item 14: CLARKE Eluned (bed 11, penicillin anaphylaxis) was prescribed
    amoxicillin with no flag; the demo must not teach staff to overlook conflicts."""
    folder = write_demo_extract(tmp_path, seed=seed, now=NOW)
    snapshot = read_extract([folder])
    allergic: dict[str, set[str]] = defaultdict(set)
    for allergy in snapshot.allergies:
        if not allergy.no_known_allergies:
            allergic[allergy.patient_id].add(allergy.substance.casefold())
    assert any("penicillin" in s for subs in allergic.values() for s in subs)
    conflicts = []
    for rx in snapshot.prescriptions:
        drug = rx.drug.casefold()
        for substance in allergic.get(rx.patient_id, ()):
            words = CONFLICTS.get(substance, (substance,))
            if any(w in drug for w in words):
                conflicts.append((rx.patient_id, substance, rx.drug))
    assert conflicts == []
