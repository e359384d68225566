"""Moving a form through draft → keyed → verified, with optional blind double entry.

Published figures put single keying at about 29 errors per 10,000 fields and double
keying at about 14; the errors left come from making the two keyings agree with each
other rather than with the paper. So a difference is never settled by picking one of
the two values: a third person types the value from the paper into the *resolved* pass.
The final value of a field is the resolved one where there is one, else the first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from paperfallback.domain.errors import InputError
from paperfallback.reentry.model import (
    DiscrepancyKind,
    Entry,
    EntryPass,
    EntryState,
    FieldAddress,
    InstanceStatus,
)
from paperfallback.reentry.store import EntriesStore, InstanceRecord


def double_entry_required(
    record: InstanceRecord | None, form_id: str, double_entry_forms: Iterable[str]
) -> bool:
    """Per instance when set there, else per form type from settings."""
    if record is not None and record.double_entry is not None:
        return record.double_entry
    return form_id in set(double_entry_forms)


def finish_pass(
    store: EntriesStore, instance_id: str, entry_pass: EntryPass, *, double_entry: bool,
    by: str,
) -> InstanceStatus:
    """The clerk has keyed the whole form in this pass; returns the new status.

    Single entry: the first pass makes the form *keyed*. Double entry: the form is
    *keyed* once both passes are done, and *verified* when they agree and every
    difference ever recorded has been resolved from the paper by a third person.
    """
    record = store.instance(instance_id)
    if record is None:
        raise InputError(f"nothing has been keyed for form {instance_id}")
    if record.status is InstanceStatus.EXPORTED:
        return record.status
    if entry_pass is EntryPass.SECOND and record.first_clerk == by:
        raise InputError(
            f"{by} keyed the first pass of {instance_id}: a second clerk must key it blind"
        )
    store.set_clerk(instance_id, entry_pass, by)
    store.mark_pass_done(instance_id, entry_pass)
    record = store.instance(instance_id)
    assert record is not None
    if not double_entry:
        if record.status.rank < InstanceStatus.KEYED.rank:
            store.set_status(instance_id, InstanceStatus.KEYED)
        return _status(store, instance_id)
    if not (record.first_done and record.second_done):
        return record.status
    compare(store, instance_id)  # records every new difference
    if record.status.rank < InstanceStatus.KEYED.rank:
        store.set_status(instance_id, InstanceStatus.KEYED)
    # Every difference ever recorded must have been keyed from the paper by a third
    # person, not only those the two passes still show (R-ENT-6).
    if not open_differences(store, instance_id):
        store.set_status(instance_id, InstanceStatus.VERIFIED, by=by)
    elif record.status is InstanceStatus.VERIFIED:
        # A pass re-keyed after verification now differs: check it again from the paper.
        store.set_status(instance_id, InstanceStatus.KEYED)
    return _status(store, instance_id)


def _status(store: EntriesStore, instance_id: str) -> InstanceStatus:
    record = store.instance(instance_id)
    assert record is not None
    return record.status


@dataclass(frozen=True, slots=True)
class Difference:
    address: FieldAddress
    first: Entry | None
    second: Entry | None


def _same(a: Entry | None, b: Entry | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.state == b.state and a.value == b.value


def compare(store: EntriesStore, instance_id: str) -> list[Difference]:
    """Field-by-field differences between the two blind keyings; each is recorded as an
    open double-entry discrepancy unless already resolved from the paper."""
    first = {e.address: e for e in store.entries(instance_id, EntryPass.FIRST)}
    second = {e.address: e for e in store.entries(instance_id, EntryPass.SECOND)}
    differences = [
        Difference(a, first.get(a), second.get(a))
        for a in sorted(set(first) | set(second))
        if not _same(first.get(a), second.get(a))
    ]
    for d in differences:
        if not _resolved(store, d.address):
            store.raise_discrepancy(DiscrepancyKind.DOUBLE_ENTRY, d.address, {
                "first": d.first.shown if d.first else "",
                "second": d.second.shown if d.second else "",
            })
    return differences


def _resolved(store: EntriesStore, address: FieldAddress) -> bool:
    return store.entry(address, EntryPass.RESOLVED) is not None


def open_differences(store: EntriesStore, instance_id: str) -> list[FieldAddress]:
    """Fields whose two keyings once differed and that no third person has yet keyed from
    the paper (hazard R-ENT-6).

    A difference, once recorded, is settled only by a value in the *resolved* pass:
    re-keying either pass so the two agree, or closing the discrepancy without a value,
    does not settle it (agreement with each other is not agreement with the paper).
    """
    recorded = [
        d for d in store.discrepancies(instance_id, open_only=False)
        if d.kind is DiscrepancyKind.DOUBLE_ENTRY
    ]
    return sorted({d.address for d in recorded
                   if d.is_open or not _resolved(store, d.address)})


def resolve(
    store: EntriesStore, address: FieldAddress, value: str | None, state: EntryState, *,
    by: str, form_id: str,
) -> InstanceStatus:
    """Save the value a third person read from the paper; verify when none is left open.

    ``value`` must already be validated (use a KeyingSession in the RESOLVED pass).
    """
    record = store.instance(address.instance_id)
    if record is None:
        raise InputError(f"nothing has been keyed for form {address.instance_id}")
    if by.strip().casefold() in (record.first_clerk.casefold(), record.second_clerk.casefold()):
        raise InputError(
            f"{by} keyed this form: a third person must resolve the differences from the paper"
        )
    store.save(address, EntryPass.RESOLVED, value, state, clerk=by, form_id=form_id)
    store.close_discrepancy(DiscrepancyKind.DOUBLE_ENTRY, address, by=by,
                            note="resolved from the paper")
    return settle(store, address.instance_id, by=by)


def settle(store: EntriesStore, instance_id: str, *, by: str) -> InstanceStatus:
    """Verify a double-entry form once both passes are done and nothing is left open."""
    record = store.instance(instance_id)
    assert record is not None
    if (record.first_done and record.second_done and not open_differences(store, instance_id)
            and record.status is InstanceStatus.KEYED):
        store.set_status(instance_id, InstanceStatus.VERIFIED, by=by)
    return _status(store, instance_id)


def final_entries(store: EntriesStore, instance_id: str) -> list[Entry]:
    """What the export takes: the first keying, with resolved values where they exist."""
    merged = {e.address: e for e in store.entries(instance_id, EntryPass.FIRST)}
    for entry in store.entries(instance_id, EntryPass.RESOLVED):
        merged[entry.address] = entry
    return [merged[a] for a in sorted(merged)]


def final_entries_of_many(store: EntriesStore,
                          instance_ids: Iterable[str]) -> dict[str, list[Entry]]:
    """:func:`final_entries` of many instances at once (the export reads thousands)."""
    out: dict[str, list[Entry]] = {}
    for instance_id, entries in store.entries_of_many(
            instance_ids, (EntryPass.FIRST, EntryPass.RESOLVED)).items():
        if all(e.entry_pass is EntryPass.FIRST for e in entries):
            out[instance_id] = entries  # already in address order (the query sorts them)
            continue
        merged = {e.address: e for e in entries if e.entry_pass is EntryPass.FIRST}
        for entry in entries:
            if entry.entry_pass is EntryPass.RESOLVED:
                merged[entry.address] = entry
        out[instance_id] = [merged[a] for a in sorted(merged)]
    return out


def ready_for_export(store: EntriesStore, double_entry_forms: Iterable[str]) -> list[str]:
    """Instances whose values are final: keyed (single entry) or verified (double entry)."""
    forms = set(double_entry_forms)
    ready = []
    for record in store.instances():
        single = not double_entry_required(record, record.form_id, forms)
        if record.status is InstanceStatus.VERIFIED or (
            record.status is InstanceStatus.KEYED and single
        ):
            ready.append(record.instance_id)
    return ready


@dataclass
class Rate:
    """How often keyed fields disagreed (differences) or were wrong against the paper
    (errors: the value differs from the one resolved from the paper)."""

    fields: int = 0
    differences: int = 0
    errors: int = 0

    @property
    def per_10000(self) -> float:
        return round(10000 * self.errors / self.fields, 1) if self.fields else 0.0

    def to_json(self) -> dict[str, float | int]:
        return {"fields": self.fields, "differences": self.differences, "errors": self.errors,
                "errors_per_10000": self.per_10000}


@dataclass
class DiscrepancyRates:
    by_clerk: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))
    by_field: dict[str, Rate] = field(default_factory=lambda: defaultdict(Rate))

    def to_json(self) -> dict[str, dict[str, dict[str, float | int]]]:
        return {
            "by_clerk": {k: v.to_json() for k, v in sorted(self.by_clerk.items())},
            "by_field": {k: v.to_json() for k, v in sorted(self.by_field.items())},
        }


def discrepancy_rates(store: EntriesStore) -> DiscrepancyRates:
    """Per clerk and per field, over every form keyed twice."""
    rates = DiscrepancyRates()
    for record in store.instances():
        if not (record.first_done and record.second_done):
            continue
        first = {e.address: e for e in store.entries(record.instance_id, EntryPass.FIRST)}
        second = {e.address: e for e in store.entries(record.instance_id, EntryPass.SECOND)}
        resolved = {e.address: e for e in store.entries(record.instance_id, EntryPass.RESOLVED)}
        for address in set(first) | set(second):
            a, b = first.get(address), second.get(address)
            differs = not _same(a, b)
            truth = resolved.get(address)
            wrong = [differs and truth is not None and not _same(mine, truth) for mine in (a, b)]
            for clerk, is_wrong in zip((record.first_clerk, record.second_clerk), wrong,
                                       strict=True):
                rate = rates.by_clerk[clerk or "?"]
                rate.fields += 1
                rate.differences += differs
                rate.errors += is_wrong
            per_field = rates.by_field[address.field_id]
            per_field.fields += 1
            per_field.differences += differs
            per_field.errors += any(wrong)
    return rates
