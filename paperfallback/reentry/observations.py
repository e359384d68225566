"""Keyed observations for the next pack: in a long outage, a NEWS2 chart or handover
list printed after paper was keyed must show the latest keyed values too, marked as
keyed from paper with their time (not silently mixed with the EPR extract).

Call :func:`keyed_observations` when building a patient's pack; every observation it
returns has an id starting with :data:`KEYED_PREFIX` and ``source_time`` = when keyed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from paperfallback.cache.encrypted_db import Connection
from paperfallback.domain.records import Observation, ObservationKind
from paperfallback.reentry.model import EntryState
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workflow import final_entries

KEYED_PREFIX = "keyed-from-paper:"
TIME_FIELD = "obs_time"  # the NEWS2 chart's time field (issue 4 names it)
_UNITS = {
    ObservationKind.RESP_RATE: "/min", ObservationKind.SPO2: "%", ObservationKind.O2_FLOW: "L/min",
    ObservationKind.SBP: "mmHg", ObservationKind.DBP: "mmHg", ObservationKind.PULSE: "/min",
    ObservationKind.TEMP: "Cel",
}
_CODED = {ObservationKind.OXYGEN, ObservationKind.ACVPU}


def is_keyed_from_paper(obs: Observation) -> bool:
    return obs.id.startswith(KEYED_PREFIX)


def keyed_observations(work_db: Connection, patient_id: str) -> list[Observation]:
    """Every observation keyed from paper for ``patient_id``, oldest first.

    Only values (not illegible / not recorded) of chart columns whose time was keyed.
    For double-entry forms the resolved value wins over the first keying.
    """
    store = EntriesStore(work_db)
    kinds = {k.value: k for k in ObservationKind}
    out: list[Observation] = []
    for record in store.instances():
        if record.patient_id != patient_id:
            continue
        columns: dict[tuple[str, int], dict[str, tuple[str, datetime]]] = defaultdict(dict)
        for entry in final_entries(store, record.instance_id):
            if entry.state is EntryState.VALUE and entry.value is not None:
                columns[(entry.address.section, entry.address.index)][entry.address.field_id] = (
                    entry.value, entry.keyed_at)
        for (section, index), values in columns.items():
            if TIME_FIELD not in values:
                continue
            try:
                effective = datetime.fromisoformat(values[TIME_FIELD][0])
            except ValueError:
                continue
            for field_id, (value, keyed_at) in values.items():
                kind = kinds.get(field_id)
                if kind is None:
                    continue
                ident = f"{KEYED_PREFIX}{record.instance_id}:{section}:{index}:{field_id}"
                if kind in _CODED:
                    obs = Observation(ident, patient_id, kind, effective, text=value,
                                      source_time=keyed_at)
                else:
                    try:
                        number = float(value)
                    except ValueError:
                        continue
                    obs = Observation(ident, patient_id, kind, effective, value=number,
                                      unit=_UNITS.get(kind, ""), source_time=keyed_at)
                out.append(obs)
    out.sort(key=lambda o: (o.effective, o.kind.value))
    return out
