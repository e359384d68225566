"""Keyed observations for the next pack: in a long outage, a NEWS2 chart or handover
list printed after paper was keyed must show the latest keyed values too, marked as
keyed from paper with their time (not silently mixed with the EPR extract).

Call :func:`keyed_observations` for one patient, or pass a :class:`KeyedObservations`
(every patient's, read once) to ``render_pack`` / ``ward_summaries``; every observation
has an id starting with :data:`KEYED_PREFIX` and ``source_time`` = when keyed. The merge
with the extract's observations is paperfallback.domain.keyed (a lower layer); it also
recomputes each keyed column's NEWS2 total from its parameters on the column's SpO2
scale (keyed here, carried on the ids), so the handwritten total never prints alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from paperfallback.domain.keyed import KEYED_PREFIX, is_keyed_from_paper, keyed_id
from paperfallback.domain.news2_input import NEWS2_FIELDS, SCALE, TOTAL, spo2_scale_for
from paperfallback.domain.records import Observation, ObservationKind
from paperfallback.domain.terminology import PARAMETER_UNITS
from paperfallback.reentry.model import EntryState
from paperfallback.reentry.patients import is_unconfirmed
from paperfallback.reentry.store import EntriesStore
from paperfallback.reentry.workflow import final_entries
from paperfallback.register import printed_spo2_scales
from paperfallback.workstore import WorkStore

if TYPE_CHECKING:  # the ward list reads keyed values before any form is needed (start-up)
    from paperfallback.formspec import FormCatalogue

TIME_FIELD = "obs_time"  # the NEWS2 chart's time field (issue 4 names it)
SCALE_FIELD = SCALE  # the column's SpO2 scale: carried on the ids (domain.keyed)
_CODED = {ObservationKind.OXYGEN, ObservationKind.ACVPU}


__all__ = ["KEYED_PREFIX", "KeyedObservations", "is_keyed_from_paper", "keyed_by_patient",
           "keyed_observations"]


def keyed_observations(work_db: WorkStore, patient_id: str,
                       catalogue: FormCatalogue | None = None) -> list[Observation]:
    """Every observation keyed from paper for ``patient_id``, oldest first.

    Only values (not illegible / not recorded) of chart columns whose time was keyed.
    For double-entry forms the resolved value wins over the first keying. With the
    ``catalogue`` a chart's fields are found by the roles they declare (site charts with
    their own field ids); without it, by the bundled NEWS2 chart's field ids.
    """
    return _keyed_by_patient(work_db, {patient_id}, catalogue).get(patient_id, [])


class KeyedObservations:
    """Every patient's keyed observations, read from the work store on first use.

    A ward pack asks once per patient; reading the entries once keeps that one pass.
    Call it with a cache patient id (a :data:`paperfallback.domain.keyed.KeyedSource`).
    """

    def __init__(self, work_db: WorkStore, catalogue: FormCatalogue | None = None) -> None:
        self._conn = work_db
        self._catalogue = catalogue
        self._by_patient: dict[str, list[Observation]] | None = None

    def __call__(self, patient_id: str) -> list[Observation]:
        if self._by_patient is None:
            self._by_patient = keyed_by_patient(self._conn, self._catalogue)
        return self._by_patient.get(patient_id, [])


def keyed_by_patient(work_db: WorkStore, catalogue: FormCatalogue | None = None,
                     ) -> dict[str, list[Observation]]:
    """Every patient's keyed observations (cache patient id -> oldest first), read now."""
    return _keyed_by_patient(work_db, None, catalogue)


@dataclass(frozen=True, slots=True)
class _ChartFields:
    """Where a chart section keeps its NEWS2 rows: field id -> parameter, time, scale."""

    parameters: dict[str, str]
    time: str
    scale: str


_BUNDLED = _ChartFields(dict(NEWS2_FIELDS), TIME_FIELD, SCALE_FIELD)


def _chart_fields(catalogue: FormCatalogue | None, form_id: str, section: str) -> _ChartFields:
    """By the roles the form declares (``news2.*``, ``observation_time``), else the
    bundled chart's field ids (a form the catalogue does not hold, or no catalogue)."""
    if catalogue is None or form_id not in catalogue:
        return _BUNDLED
    spec = catalogue.get(form_id)
    declared = spec.news2_fields(section)
    if not declared:
        return _BUNDLED
    return _ChartFields(
        {fid: (TOTAL if parameter == "total" else parameter)
         for parameter, fid in declared.items()},
        spec.roles(section).get("observation_time", TIME_FIELD),
        declared.get(SCALE, SCALE_FIELD))


def _keyed_by_patient(work_db: WorkStore, patient_ids: set[str] | None,
                      catalogue: FormCatalogue | None = None) -> dict[str, list[Observation]]:
    store = EntriesStore(work_db)
    records = store.instances()
    # The register's scales only when something was keyed: not the whole register decoded
    # on every print of an outage that has keyed nothing yet (issue #15).
    printed = printed_spo2_scales(work_db) if records else {}
    kinds = {k.value: k for k in ObservationKind}
    by_patient: dict[str, list[Observation]] = defaultdict(list)
    for record in records:
        patient_id = record.patient_id
        if patient_id is None or (patient_ids is not None and patient_id not in patient_ids):
            continue
        if is_unconfirmed(record.patient_match):
            continue  # a name-only match: not this patient's until a clerk confirms (#13.8)
        out = by_patient[patient_id]
        columns: dict[tuple[str, int], dict[str, tuple[str, datetime]]] = defaultdict(dict)
        for entry in final_entries(store, record.instance_id):
            if entry.state is EntryState.VALUE and entry.value is not None:
                columns[(entry.address.section, entry.address.index)][entry.address.field_id] = (
                    entry.value, entry.keyed_at)
        for (section, index), values in columns.items():
            chart = _chart_fields(catalogue, record.form_id, section)
            if chart.time not in values:
                continue
            try:
                effective = datetime.fromisoformat(values[chart.time][0])
            except ValueError:
                continue
            # The column's scale: keyed, else printed on the chart (domain.news2_input).
            scale = spo2_scale_for(values.get(chart.scale, ("", effective))[0],
                                   printed.get(record.instance_id))
            for field_id, (value, keyed_at) in values.items():
                kind = kinds.get(chart.parameters.get(field_id, ""))
                if kind is None:
                    continue
                ident = keyed_id(record.instance_id, section, index, field_id, scale)
                if kind in _CODED:
                    obs = Observation(ident, patient_id, kind, effective, text=value,
                                      source_time=keyed_at)
                else:
                    try:
                        number = float(value)
                    except ValueError:
                        continue
                    obs = Observation(ident, patient_id, kind, effective, value=number,
                                      unit=_unit(kind), source_time=keyed_at)
                out.append(obs)
    for observations in by_patient.values():
        observations.sort(key=lambda o: (o.effective, o.kind.value))
    return dict(by_patient)


def _unit(kind: ObservationKind) -> str:
    unit = PARAMETER_UNITS.get(kind.value)
    return unit.printed if unit is not None else ""
