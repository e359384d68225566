"""Observations keyed from paper beside those from the EPR extract (long outages).

During an outage of days, the next NEWS2 chart and handover list must show what was
written on paper and keyed back since the last extract, or a nurse charts against
readings a day old (issue 6, "Long outages"). Keyed values are not in the EPR: they are
merged here, in time order, and stay recognisable (:func:`is_keyed_from_paper`) so every
screen and page marks them. Lives in the domain so the cache's ward summary, the
renderer and re-entry (which produces them) share one rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from paperfallback.domain.records import Observation, ObservationKind, PatientRecord

KEYED_PREFIX = "keyed-from-paper:"

# Keyed observations of one patient (cache patient id), oldest first.
KeyedSource = Callable[[str], Sequence[Observation]]


def is_keyed_from_paper(obs: Observation) -> bool:
    return obs.id.startswith(KEYED_PREFIX)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def merge_observations(cached: Iterable[Observation],
                       keyed: Iterable[Observation]) -> tuple[Observation, ...]:
    """Cached and keyed observations in time order, one per parameter and minute.

    A keyed value the extract already holds (same parameter, same minute: the paper was
    re-imported into the EPR and came back in a later extract) is dropped, because the
    EPR is the record. Of keyed values for the same parameter and minute (two forms, or
    a correction), the one keyed last wins.
    """
    cached = list(cached)
    seen = {(o.kind, _minute(o.effective)) for o in cached}
    latest: dict[tuple[ObservationKind, datetime], Observation] = {}
    for obs in keyed:
        slot = (obs.kind, _minute(obs.effective))
        if slot in seen:
            continue
        held = latest.get(slot)
        if held is None or _keyed_at(obs) >= _keyed_at(held):
            latest[slot] = obs
    merged = cached + list(latest.values())
    merged.sort(key=lambda o: (o.effective, is_keyed_from_paper(o)))
    return tuple(merged)


def _keyed_at(obs: Observation) -> datetime:
    return obs.source_time or obs.effective


def with_keyed(record: PatientRecord, keyed: KeyedSource | None) -> PatientRecord:
    """The record with its keyed observations merged in (unchanged without any)."""
    if keyed is None:
        return record
    extra = keyed(record.patient.id)
    if not extra:
        return record
    return dataclasses.replace(
        record, observations=merge_observations(record.observations, extra))


def keyed_times(observations: Iterable[Observation]) -> list[datetime]:
    """When the keyed observations among ``observations`` were keyed, oldest first."""
    return sorted({o.source_time for o in observations
                   if is_keyed_from_paper(o) and o.source_time is not None})
