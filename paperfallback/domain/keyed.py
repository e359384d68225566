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

from paperfallback.domain.news2_input import Raw, news2_input
from paperfallback.domain.records import Observation, ObservationKind, PatientRecord

KEYED_PREFIX = "keyed-from-paper:"
_SCALE_SEP = ";scale="  # a keyed column's SpO2 scale, carried on each of its observation ids
PAPER_TOTAL_PREFIX = "paper: "  # text of a recomputed total whose handwritten one differed
UNCHECKED_TOTAL = "paper total, not checked"  # text of a total whose column is incomplete

# Keyed observations of one patient (cache patient id), oldest first.
KeyedSource = Callable[[str], Sequence[Observation]]


def is_keyed_from_paper(obs: Observation) -> bool:
    return obs.id.startswith(KEYED_PREFIX)


def keyed_id(instance_id: str, section: str, index: int, field_id: str,
             spo2_scale: int | None) -> str:
    """The id of a value keyed from paper: its form instance, chart column and field,
    and the SpO2 scale keyed in that column (if any), so the next chart plots and scores
    the column on the scale the nurse used."""
    ident = f"{KEYED_PREFIX}{instance_id}:{section}:{index}:{field_id}"
    return f"{ident}{_SCALE_SEP}{spo2_scale}" if spo2_scale in (1, 2) else ident


def keyed_spo2_scale(obs: Observation) -> int | None:
    """The SpO2 scale keyed in the column of ``obs`` (None: not keyed, or not from paper)."""
    if not is_keyed_from_paper(obs) or _SCALE_SEP not in obs.id:
        return None
    scale = obs.id.rsplit(_SCALE_SEP, 1)[1]
    return int(scale) if scale in ("1", "2") else None


def paper_total(obs: Observation) -> str | None:
    """The handwritten NEWS2 total where it differed from the keyed parameters' score
    (``obs`` then holds the computed total), else None."""
    if obs.kind is ObservationKind.NEWS2_TOTAL and obs.text.startswith(PAPER_TOTAL_PREFIX):
        return obs.text[len(PAPER_TOTAL_PREFIX):]
    return None


def is_unchecked_total(obs: Observation) -> bool:
    """A handwritten NEWS2 total that could not be checked (a parameter of its column was
    not keyed as a value): shown flagged, never as a checked total."""
    return obs.kind is ObservationKind.NEWS2_TOTAL and obs.text == UNCHECKED_TOTAL


def _column(obs: Observation) -> str:
    return obs.id.split(_SCALE_SEP, 1)[0].rsplit(":", 1)[0]


def rescore_keyed(keyed: Iterable[Observation],
                  default_scale: int | None) -> list[Observation]:
    """Keyed observations with each column's NEWS2 total computed from its keyed
    parameters (RCP NEWS2 2017, chart 1, via :func:`paperfallback.domain.news2_input`) on
    the column's SpO2 scale as carried on its ids (re-entry puts the keyed scale, else the
    one printed on the chart, there), else ``default_scale``, else Scale 1.

    A handwritten total is never passed on alone: where it differs from the computed one
    the total keeps the computed value with the paper's in its text (:func:`paper_total`),
    so every page flags it; in a column whose parameters are incomplete (blank, illegible)
    it cannot be checked and is marked so (:func:`is_unchecked_total`) rather than hidden,
    as it may be the only sign of a deterioration. The entries keep it for review.
    """
    columns: dict[str, list[Observation]] = {}
    for obs in keyed:
        columns.setdefault(_column(obs), []).append(obs)
    out: list[Observation] = []
    for column, group in columns.items():
        params: dict[ObservationKind, Observation] = {
            o.kind: o for o in group if o.kind is not ObservationKind.NEWS2_TOTAL}
        out += params.values()
        handwritten = next((o for o in group if o.kind is ObservationKind.NEWS2_TOTAL), None)
        first = group[0]
        scale = keyed_spo2_scale(first)
        computed = _score(params, scale or default_scale or 1)
        if computed is None:
            if handwritten is not None:
                out.append(dataclasses.replace(handwritten, text=UNCHECKED_TOTAL))
            continue
        text = ""
        if handwritten is not None and handwritten.value is not None \
                and int(handwritten.value) != computed:
            text = f"{PAPER_TOTAL_PREFIX}{int(handwritten.value)}"
        ident = handwritten.id if handwritten is not None else (
            f"{column}:news2_total" + (f"{_SCALE_SEP}{scale}" if scale else ""))
        out.append(Observation(ident, first.patient_id, ObservationKind.NEWS2_TOTAL,
                               first.effective, value=float(computed), text=text,
                               source_time=max(_keyed_at(o) for o in group)))
    return out


def _score(params: dict[ObservationKind, Observation], scale: int) -> int | None:
    values: dict[str, Raw] = {
        kind.value: obs.value if obs.value is not None else obs.text
        for kind, obs in params.items()}
    return news2_input(values, printed_scale=scale).total


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
    """The record with its keyed observations merged in (unchanged without any), each
    keyed column's NEWS2 total recomputed (:func:`rescore_keyed`)."""
    if keyed is None:
        return record
    extra = keyed(record.patient.id)
    if not extra:
        return record
    extra = rescore_keyed(extra, record.spo2_scale)
    return dataclasses.replace(
        record, observations=merge_observations(record.observations, extra))


def keyed_times(observations: Iterable[Observation]) -> list[datetime]:
    """When the keyed observations among ``observations`` were keyed, oldest first."""
    return sorted({o.source_time for o in observations
                   if is_keyed_from_paper(o) and o.source_time is not None})
