"""The records the entries store hands out, and how its rows become them.

Split from :mod:`paperfallback.reentry.store` (which re-exports the public names) to keep
each module to one idea: this one is the row format, that one the transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paperfallback.cache.staleness import utc_now
from paperfallback.reentry.model import (
    Entry,
    EntryPass,
    EntryState,
    FieldAddress,
    InstanceStatus,
)


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """What the entries store knows about one form instance (absent = still 'printed')."""

    instance_id: str
    form_id: str
    status: InstanceStatus
    double_entry: bool | None  # None: follow the form type's policy
    patient_id: str | None
    patient_match: str  # how the patient was identified on a blank form
    first_clerk: str
    second_clerk: str
    resolved_by: str
    updated_at: datetime
    exported_at: datetime | None
    first_done: bool = False  # the first keying was finished
    second_done: bool = False  # the blind second keying was finished


@dataclass(frozen=True, slots=True)
class DowntimePatient:
    """A patient first registered on paper, under a pre-allocated downtime number."""

    downtime_number: str
    instance_id: str
    nhs_number: str | None
    hospital_number: str | None
    family: str
    given: str
    birth_date: str | None  # ISO date
    sex: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class FieldWrite:
    """One value to save (used for batches from a workbook)."""

    address: FieldAddress
    value: str | None
    state: EntryState


_CLERK_COLUMN = {EntryPass.FIRST: "first_clerk", EntryPass.SECOND: "second_clerk",
                 EntryPass.RESOLVED: "resolved_by"}
_ENTRY_COLUMNS = (
    "instance_id, section, idx, field_id, pass, value, state, keyed_by, keyed_at, source"
)
_INSTANCE_COLUMNS = (
    "instance_id, form_id, status, double_entry, patient_id, patient_match, first_clerk, "
    "second_clerk, resolved_by, updated_at, exported_at, first_done_at, second_done_at"
)


_PASSES = {p.value: p for p in EntryPass}
_STATES = {s.value: s for s in EntryState}


def _entry(r: Sequence[Any], moments: dict[str, datetime] | None = None) -> Entry:
    """One stored entry; ``moments`` caches parsed keyed-at times (a bulk read shares them:
    every field of a saved row has the same one)."""
    text = r[8]
    if moments is None:
        keyed_at = datetime.fromisoformat(text)
    else:
        keyed_at = moments.get(text) or moments.setdefault(text, datetime.fromisoformat(text))
    return Entry(
        address=FieldAddress(r[0], r[1], r[2], r[3]),
        entry_pass=_PASSES[r[4]],
        value=r[5],
        state=_STATES[r[6]],
        keyed_by=r[7],
        keyed_at=keyed_at,
        source=r[9],
    )


def _instance(r: Sequence[Any]) -> InstanceRecord:
    return InstanceRecord(
        instance_id=r[0],
        form_id=r[1],
        status=InstanceStatus(r[2]),
        double_entry=None if r[3] is None else bool(r[3]),
        patient_id=r[4],
        patient_match=r[5],
        first_clerk=r[6],
        second_clerk=r[7],
        resolved_by=r[8],
        updated_at=datetime.fromisoformat(r[9]),
        exported_at=datetime.fromisoformat(r[10]) if r[10] else None,
        first_done=r[11] is not None,
        second_done=r[12] is not None,
    )


def _now() -> str:
    return utc_now().isoformat()
