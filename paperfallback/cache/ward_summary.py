"""What the ward screen shows: one line per patient and one line about the cache.

Qt-free so the desktop app's table model and banner only adapt these values; the rules
(which NEWS2 is "latest", how the allergy flag reads, when the cache is stale) live here
where they are unit tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from paperfallback.cache.staleness import (
    FUTURE_AS_OF_MESSAGE,
    describe_age,
    format_uk,
    uk_time,
    utc_now,
)
from paperfallback.cache.store import CacheStatus, CacheStore, age_in_years
from paperfallback.domain.keyed import (
    KeyedSource,
    is_keyed_from_paper,
    is_unchecked_total,
    with_keyed,
)
from paperfallback.domain.news2 import ClinicalRisk
from paperfallback.domain.news2_input import Raw, news2_input
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.domain.records import (
    AllergyStatus,
    Observation,
    ObservationKind,
    PatientRecord,
)

ALL_WARDS = ""  # the ward switcher's "All patients" choice

# The seven NEWS2 parameters a full set needs (RCP NEWS2 2017, chart 1).
_NEWS2_PARAMETERS = (
    ObservationKind.RESP_RATE,
    ObservationKind.SPO2,
    ObservationKind.OXYGEN,
    ObservationKind.SBP,
    ObservationKind.PULSE,
    ObservationKind.ACVPU,
    ObservationKind.TEMP,
)


@dataclass(frozen=True, slots=True)
class LatestNews2:
    total: int
    at: datetime
    computed: bool  # True when scored here from the parameters, not recorded by the EPR
    keyed_at: datetime | None = None  # set when it comes from paper keyed back (not the EPR)
    unchecked: bool = False  # a paper total whose column lacked a parameter: not verified

    @property
    def risk(self) -> ClinicalRisk:
        """Risk from the total alone (RCP NEWS2 2017, chart 2: 5-6 medium, 7+ high). A single
        parameter scoring 3 (low-medium) cannot be seen from a total, so it reads as low."""
        if self.total >= 7:
            return ClinicalRisk.HIGH
        if self.total >= 5:
            return ClinicalRisk.MEDIUM
        return ClinicalRisk.LOW


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """One row of the ward list: what a nurse needs to pick the right patient."""

    patient_id: str
    ward_code: str
    bed: str
    name: str  # FAMILY, Given
    nhs_number: str  # 3-3-4, or "" when not recorded
    hospital_number: str
    birth_date: date | None
    age_years: int | None
    allergy_status: AllergyStatus
    allergy_text: str  # substances, "No known allergies" or "Not recorded"
    alerts: tuple[str, ...]
    news2: LatestNews2 | None
    deceased: str = ""  # "DECEASED 09-May-1989" (shown instead of an age), or ""

    @property
    def has_allergies(self) -> bool:
        return self.allergy_status is AllergyStatus.RECORDED


def latest_news2(observations: Iterable[Observation], spo2_scale: int | None) -> LatestNews2 | None:
    """The most recent NEWS2: a recorded total, else one scored from a full parameter set
    taken at one time (RCP NEWS2 2017, chart 1). A partial set gives no score."""
    by_time: dict[datetime, dict[ObservationKind, Observation]] = {}
    for obs in observations:
        by_time.setdefault(obs.effective, {})[obs.kind] = obs
    for moment in sorted(by_time, reverse=True):
        group = by_time[moment]
        total = group.get(ObservationKind.NEWS2_TOTAL)
        if total is not None and total.value is not None:
            return LatestNews2(int(total.value), moment, computed=False,
                               keyed_at=_keyed_at([total]),
                               unchecked=is_unchecked_total(total))
        computed = _score_group(group, spo2_scale or 1)
        if computed is not None:
            return LatestNews2(computed, moment, computed=True,
                               keyed_at=_keyed_at(group.values()))
    return None


def _keyed_at(observations: Iterable[Observation]) -> datetime | None:
    times = [o.source_time or o.effective for o in observations if is_keyed_from_paper(o)]
    return max(times) if times else None


def _score_group(group: dict[ObservationKind, Observation], spo2_scale: int) -> int | None:
    if any(kind not in group for kind in _NEWS2_PARAMETERS):
        return None
    values: dict[str, Raw] = {
        kind.value: obs.value if obs.value is not None else obs.text
        for kind, obs in group.items()}
    values.pop(ObservationKind.NEWS2_TOTAL.value, None)
    return news2_input(values, printed_scale=spo2_scale).total


def allergy_text(record: PatientRecord) -> str:
    """Never blank: 'not recorded' must not read as 'none known'."""
    status = record.allergy_status
    if status is AllergyStatus.RECORDED:
        return "; ".join(a.substance for a in record.true_allergies)
    if status is AllergyStatus.NONE_KNOWN:
        return "No known allergies"
    return "Not recorded"


def summarise(record: PatientRecord, *, today: date) -> PatientSummary:
    patient, stay = record.patient, record.stay
    return PatientSummary(
        patient_id=patient.id,
        ward_code=stay.ward_code if stay else "",
        bed=stay.bed if stay else "",
        name=patient.display_name,
        nhs_number=format_nhs_number(patient.nhs_number),
        hospital_number=patient.hospital_number or "",
        birth_date=patient.birth_date,
        age_years=(age_in_years(patient.birth_date, today)
                   if patient.birth_date and not patient.deceased else None),
        deceased=patient.death_text,
        allergy_status=record.allergy_status,
        allergy_text=allergy_text(record),
        alerts=tuple(a.text for a in record.alerts),
        news2=latest_news2(record.observations, record.spo2_scale),
    )


def ward_summaries(
    store: CacheStore, ward_code: str = ALL_WARDS, *, today: date | None = None,
    keyed: KeyedSource | None = None,
) -> list[PatientSummary]:
    """Every patient on a ward (or every cached patient) in ward and bed order.

    ``keyed`` gives the observations keyed from paper (paperfallback.reentry, a layer
    above, passed in by the app), so the latest NEWS2 includes them in a long outage.
    """
    day = today or uk_time(utc_now()).date()
    rows = store.patients(ward_code=ward_code or None)
    return [summarise(with_keyed(store.patient_record(row.patient.id), keyed), today=day)
            for row in rows]


def search_ids(store: CacheStore, ward_code: str, text: str) -> set[str] | None:
    """Ids of the patients a search matches (None: no search, show everyone)."""
    if not text.strip():
        return None
    return store.patient_ids(ward_code=ward_code or None, search=text)


class CacheLevel(StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class CacheBanner:
    level: CacheLevel
    headline: str
    detail: str


def cache_banner(status: CacheStatus, *, now: datetime | None = None) -> CacheBanner:
    """The always-visible line about the data: its time and age, or an unmissable warning."""
    if status.is_damaged:
        return CacheBanner(
            CacheLevel.NONE,
            "CACHE FILE DAMAGED — patient data cannot be read",
            "Blank forms still print. Ask IT to run 'paperfallback cache refresh' or "
            "'paperfallback cache import' to rebuild it.",
        )
    if not status.has_snapshot or status.data_as_of is None or status.freshness is None:
        return CacheBanner(
            CacheLevel.NONE,
            "NO PATIENT DATA on this PC yet",
            "Nothing has been copied from the EPR to this PC. Printed forms will be blank.",
        )
    moment = now or status.freshness.now
    age = describe_age(moment - status.data_as_of)
    when = _when(status.data_as_of, moment)
    refresh = ""
    if status.last_refresh_failed:
        refresh = " The last refresh FAILED: " + (status.last_refresh_message or "no reason given")
    imported = " (time of import; the extract carried no time of its own)" if (
        status.as_of_source == "import time") else ""
    if not status.freshness.known:
        return CacheBanner(
            CacheLevel.STALE,
            "DATA AGE UNKNOWN — the EPR extract did not say when its data was true",
            f"Imported {format_uk(status.data_as_of)}, but the data may be much older. Treat "
            "it as stale and check anything important against the patient and the latest "
            f"paper records.{refresh}",
        )
    if status.freshness.is_future:
        return CacheBanner(
            CacheLevel.STALE,
            f"DATA AGE UNKNOWN — {FUTURE_AS_OF_MESSAGE}",
            f"Data as of {format_uk(status.data_as_of)}{imported} is later than this PC's "
            "clock. Treat the data as stale and check anything important against the "
            f"patient and the latest paper records.{refresh}",
        )
    if status.is_stale:
        return CacheBanner(
            CacheLevel.STALE,
            f"STALE DATA — last updated {age} ago",
            f"Data as of {format_uk(status.data_as_of)}{imported}. Check anything important "
            f"against the patient and the latest paper records.{refresh}",
        )
    return CacheBanner(
        CacheLevel.FRESH,
        f"Data as of {when} ({age} ago)",
        f"Copied from the EPR at {format_uk(status.data_as_of)}{imported}.{refresh}",
    )


def _when(moment: datetime, now: datetime) -> str:
    """'14:05' when today (UK time), else '23-Nov-2026 14:05'."""
    if uk_time(moment).date() == uk_time(now).date():
        return uk_time(moment).strftime("%H:%M")
    return format_uk(moment)


def default_day(days: Sequence[date], today: date) -> date | None:
    """The list day to offer first: today if it has one, else the next, else the latest."""
    if not days:
        return None
    upcoming = [d for d in days if d >= today]
    return min(upcoming) if upcoming else max(days)
