"""The ward screen's rules: latest NEWS2, allergy wording, home ward, cache banner."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from paperfallback.cache.staleness import Freshness
from paperfallback.cache.store import CacheStatus, CacheStore
from paperfallback.cache.ward_summary import (
    CacheLevel,
    cache_banner,
    default_day,
    latest_news2,
    search_ids,
    summarise,
    ward_summaries,
)
from paperfallback.domain.news2 import ClinicalRisk
from paperfallback.domain.records import (
    Alert,
    Allergy,
    AllergyStatus,
    Observation,
    ObservationKind,
    Patient,
    PatientRecord,
    Snapshot,
    Stay,
    Ward,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
K = ObservationKind


def _obs(kind: ObservationKind, at: datetime, value: float | None = None, text: str = "",
         n: list[int] = [0]) -> Observation:  # noqa: B006 - a counter for unique ids
    n[0] += 1
    return Observation(f"o{n[0]}", "p1", kind, at, value=value, text=text)


def _full_set(at: datetime, *, resp: float = 18, spo2: float = 97, oxygen: str = "A",
              sbp: float = 125, pulse: float = 80, acvpu: str = "A",
              temp: float = 37.0) -> list[Observation]:
    return [
        _obs(K.RESP_RATE, at, resp), _obs(K.SPO2, at, spo2), _obs(K.OXYGEN, at, text=oxygen),
        _obs(K.SBP, at, sbp), _obs(K.PULSE, at, pulse), _obs(K.ACVPU, at, text=acvpu),
        _obs(K.TEMP, at, temp),
    ]


def _record(*, allergies: tuple[Allergy, ...] = (), observations: tuple[Observation, ...] = (),
            alerts: tuple[Alert, ...] = ()) -> PatientRecord:
    patient = Patient("p1", "9990000018", "RM100001", "Ap Gwŷn-Łopez", "Siân",
                      date(1950, 6, 15))
    return PatientRecord(
        patient=patient, stay=Stay("s1", "p1", "W1", bed="Bed 3"), ward=Ward("W1", "Ward 1"),
        allergies=allergies, alerts=alerts, prescriptions=(), observations=observations,
    )


def test_recorded_news2_total_wins_over_scoring() -> None:
    observations = [*_full_set(T0), _obs(K.NEWS2_TOTAL, T0, 4)]
    latest = latest_news2(observations, 1)
    assert latest is not None
    assert (latest.total, latest.at, latest.computed) == (4, T0, False)


def test_news2_scored_from_the_latest_full_set() -> None:
    older = [*_full_set(T0), _obs(K.NEWS2_TOTAL, T0, 0)]
    # RR 25 (3) + SpO2 93 on scale 1 (2) + oxygen (2) + pulse 115 (2) = 9
    newer = _full_set(T0 + timedelta(hours=4), resp=25, spo2=93, oxygen="O2", pulse=115)
    latest = latest_news2([*older, *newer], 1)
    assert latest is not None
    assert (latest.total, latest.computed) == (9, True)
    assert latest.risk is ClinicalRisk.HIGH
    assert latest.at == T0 + timedelta(hours=4)


def test_a_partial_latest_set_falls_back_to_the_previous_score() -> None:
    partial = [_obs(K.PULSE, T0 + timedelta(hours=1), 130)]
    latest = latest_news2([*_full_set(T0), *partial], 1)
    assert latest is not None and latest.at == T0 and latest.total == 0


def test_scale_2_on_air_scores_low_saturation_as_zero() -> None:
    # SpO2 88 on air: scale 1 scores 3, scale 2 scores 0 (RCP NEWS2 2017, chart 1)
    assert latest_news2(_full_set(T0, spo2=88), 1).total == 3  # type: ignore[union-attr]
    assert latest_news2(_full_set(T0, spo2=88), 2).total == 0  # type: ignore[union-attr]


def test_no_observations_means_no_score() -> None:
    assert latest_news2([], None) is None


def test_allergy_wording_is_never_blank() -> None:
    today = date(2026, 11, 24)
    recorded = summarise(_record(allergies=(
        Allergy("a1", "p1", "Penicillin"), Allergy("a2", "p1", "Latex"))), today=today)
    none_known = summarise(_record(allergies=(
        Allergy("a3", "p1", "No known allergies", no_known_allergies=True),)), today=today)
    not_recorded = summarise(_record(), today=today)
    assert (recorded.allergy_status, recorded.allergy_text) == (
        AllergyStatus.RECORDED, "Penicillin; Latex")
    assert recorded.has_allergies
    assert none_known.allergy_text == "No known allergies" and not none_known.has_allergies
    assert not_recorded.allergy_text == "Not recorded"


def test_summary_row_fields() -> None:
    row = summarise(_record(alerts=(Alert("f1", "p1", "DNACPR"),)), today=date(2026, 6, 14))
    assert row.name == "AP GWŶN-ŁOPEZ, Siân"
    assert row.nhs_number == "999 000 0018"
    assert row.age_years == 75  # birthday tomorrow
    assert (row.ward_code, row.bed, row.alerts) == ("W1", "Bed 3", ("DNACPR",))


def _status(age: timedelta, *, has: bool = True, failed: bool = False) -> CacheStatus:
    now = datetime(2026, 11, 24, 14, 17, tzinfo=UTC)
    as_of = now - age
    return CacheStatus(
        has_snapshot=has, data_as_of=as_of if has else None, as_of_source="bundle.timestamp",
        imported_at=as_of, counts={}, freshness=Freshness(as_of, now, 60) if has else None,
        last_refresh_ok_at=None, last_refresh_attempt_at=None, last_refresh_failed=failed,
        last_refresh_message="network unreachable" if failed else "",
    )


def test_fresh_banner_says_time_and_age() -> None:
    banner = cache_banner(_status(timedelta(minutes=12)))
    assert banner.level is CacheLevel.FRESH
    assert banner.headline == "Data as of 14:05 (12 minutes ago)"  # GMT in November


def test_stale_banner_is_a_warning_with_the_age() -> None:
    banner = cache_banner(_status(timedelta(hours=3), failed=True))
    assert banner.level is CacheLevel.STALE
    assert banner.headline == "STALE DATA — last updated 3 hours ago"
    assert "FAILED: network unreachable" in banner.detail


def test_no_cache_banner() -> None:
    banner = cache_banner(_status(timedelta(0), has=False))
    assert banner.level is CacheLevel.NONE
    assert "NO PATIENT DATA" in banner.headline


def test_ward_summaries_and_search_from_the_store(data_dir: Path) -> None:
    patients = (
        Patient("p1", "9990000018", "RM1", "Jones", "Ffion", date(1960, 1, 1)),
        Patient("p2", None, "RM2", "Öztürk", "Emre", date(1970, 1, 1)),
        Patient("p3", None, "RM3", "Smith", "Ann", None),
    )
    snapshot = Snapshot(
        data_as_of=T0, as_of_source="option", patients=patients,
        wards=(Ward("W1", "Ward 1"), Ward("W2", "Ward 2")),
        stays=(Stay("s1", "p1", "W1", "Bed 10"), Stay("s2", "p2", "W1", "Bed 2"),
               Stay("s3", "p3", "W2", "Bed 1")),
    )
    with CacheStore.open(data_dir, "k") as store:
        store.replace_snapshot(snapshot)
        ward = ward_summaries(store, "W1", today=date(2026, 11, 24))
        assert [r.bed for r in ward] == ["Bed 2", "Bed 10"]
        assert len(ward_summaries(store)) == 3
        assert search_ids(store, "W1", "ozt") == {"p2"}
        assert search_ids(store, "", "rm3") == {"p3"}
        assert search_ids(store, "W1", "  ") is None


def test_default_day_prefers_today_then_the_next() -> None:
    days = [date(2026, 11, 20), date(2026, 11, 24), date(2026, 11, 27)]
    assert default_day(days, date(2026, 11, 24)) == date(2026, 11, 24)
    assert default_day(days, date(2026, 11, 25)) == date(2026, 11, 27)
    assert default_day(days, date(2026, 12, 1)) == date(2026, 11, 27)
    assert default_day([], date(2026, 12, 1)) is None
