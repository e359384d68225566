"""NEWS2 discrepancies as the ward sees them: per patient, in words a nurse acts on.

A handwritten NEWS2 total that differs from the score of the keyed parameters is a
clinical finding (the patient may have been under- or over-escalated on paper; issue 6).
The clerk sees it while keying; this module carries it to the ward list, by the cache
patient the form was printed for (or matched to), and records who reviewed it and why.
The total and the parameters stay as on the paper; only the flag is closed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from paperfallback.cache.staleness import UK, uk_time, utc_now
from paperfallback.domain.errors import InputError
from paperfallback.reentry.model import Discrepancy, DiscrepancyKind, EntryPass, FieldAddress
from paperfallback.reentry.observations import TIME_FIELD
from paperfallback.reentry.store import EntriesStore


@dataclass(frozen=True, slots=True)
class News2Flag:
    """One open NEWS2 discrepancy: paper total against the keyed parameters' score."""

    discrepancy_id: int
    instance_id: str
    patient_id: str | None  # cache patient id; None for a blank form not yet matched
    handwritten: str
    computed: str
    risk: str  # of the computed score (RCP NEWS2 2017, chart 2)
    observed_at: datetime | None  # the chart column's keyed time
    raised_at: datetime

    def describe(self, *, today: date | None = None) -> str:
        """'Paper chart total 2, computed 5 from the keyed values at 14:00 on form
        K7-0042Q-X: review'."""
        when = ""
        if self.observed_at is not None:
            local = uk_time(self.observed_at)
            day = today or uk_time(utc_now()).date()
            when = f" at {local:%H:%M}" if local.date() == day else f" at {local:%d-%b %H:%M}"
        return (f"Paper chart total {self.handwritten}, computed {self.computed} from the "
                f"keyed values{when} on form {self.instance_id}: review")


def news2_flag(store: EntriesStore, discrepancy: Discrepancy) -> News2Flag:
    """The ward's view of one NEWS2 discrepancy (its patient and the column's time)."""
    if discrepancy.kind is not DiscrepancyKind.NEWS2_TOTAL:
        raise InputError(f"discrepancy {discrepancy.id} is not a NEWS2 total")
    address = discrepancy.address
    record = store.instance(address.instance_id)
    return News2Flag(
        discrepancy_id=discrepancy.id,
        instance_id=address.instance_id,
        patient_id=record.patient_id if record else None,
        handwritten=discrepancy.detail.get("handwritten", "?"),
        computed=discrepancy.detail.get("computed", "?"),
        risk=discrepancy.detail.get("risk", ""),
        observed_at=_column_time(store, address),
        raised_at=discrepancy.raised_at,
    )


def open_news2_flags(store: EntriesStore) -> dict[str, list[News2Flag]]:
    """Open NEWS2 flags by cache patient id, oldest observation first. Flags on blank
    forms not yet matched to a patient have no row on the ward list (the reconciliation
    view shows them)."""
    by_patient: dict[str, list[News2Flag]] = defaultdict(list)
    for discrepancy in store.discrepancies():
        if discrepancy.kind is not DiscrepancyKind.NEWS2_TOTAL:
            continue
        flag = news2_flag(store, discrepancy)
        if flag.patient_id:
            by_patient[flag.patient_id].append(flag)
    for flags in by_patient.values():
        flags.sort(key=lambda f: (f.observed_at or f.raised_at, f.instance_id))
    return dict(by_patient)


def acknowledge_news2(store: EntriesStore, discrepancy_id: int, *, by: str, note: str) -> None:
    """Close a NEWS2 flag once a named person has reviewed it; the note says what was
    done (e.g. 'patient reviewed, escalated to FY1'). Both are required: an anonymous
    or unexplained close would hide a clinical finding."""
    name, text = by.strip(), note.strip()
    if not name:
        raise InputError("type your name: it is recorded as the person who reviewed the flag")
    if not text:
        raise InputError("type a short note of what was checked or done (for example "
                         "'chart re-added, total 5, doctor informed')")
    found = [d for d in store.discrepancies() if d.id == discrepancy_id]
    if not found:
        raise InputError(f"NEWS2 flag {discrepancy_id} is already closed or does not exist")
    if found[0].kind is not DiscrepancyKind.NEWS2_TOTAL:
        raise InputError(f"discrepancy {discrepancy_id} is a double-entry difference: "
                         "resolve it from the paper in the keying window")
    store.acknowledge(discrepancy_id, by=name, note=text)


def _column_time(store: EntriesStore, address: FieldAddress) -> datetime | None:
    """The keyed time of the flagged chart column (a resolved value wins)."""
    time_address = FieldAddress(address.instance_id, address.section, address.index,
                                TIME_FIELD)
    for entry_pass in (EntryPass.RESOLVED, EntryPass.FIRST):
        entry = store.entry(time_address, entry_pass)
        if entry is not None and entry.value:
            try:
                moment = datetime.fromisoformat(entry.value)
            except ValueError:
                return None
            return moment if moment.tzinfo else moment.replace(tzinfo=UK)
    return None
