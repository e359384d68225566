"""Running totals written on a chart (fluid balance: 'Running total IN / OUT') checked
against the hourly values keyed beside them (issue #13 item 11).

A running total that does not add up is a clinical finding like a NEWS2 total that does
not match its parameters (the balance the ward acted on may be wrong), so it is recorded
as an open discrepancy for the clerk and the ward; neither the total nor any hourly value
is ever changed to make them agree. The rule: the total written at an hour equals the
last total written above it (0 at the top of the chart) plus every value of that kind
keyed since, down to this hour. A value that could not be read ('?') leaves the total
unchecked (nothing is guessed).

A chart has running totals when its form definition says so: a number field with the role
``running_total`` lists the fields it adds up (``sums``; fluid balance: ``in_running``
sums ``in_oral``, ``in_iv1`` ...), never inferred from field ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from paperfallback.reentry.layout import KeyedSection
from paperfallback.reentry.model import (
    DiscrepancyKind,
    Entry,
    EntryPass,
    EntryState,
    FieldAddress,
)
from paperfallback.reentry.store import EntriesStore


def running_fields(section: KeyedSection) -> dict[str, tuple[str, ...]]:
    """Per running-total field, the fields it adds up (none: not a running-total chart),
    as forms/*.yaml declares them (``role: running_total`` with ``sums``)."""
    return {f.id: tuple(f.sums) for f in section.fields
            if f.role == "running_total" and f.sums}


@dataclass(frozen=True, slots=True)
class RunningCheck:
    address: FieldAddress
    label: str
    written: float
    expected: float

    @property
    def notice(self) -> str:
        return (f"{self.label} written as {_text(self.written)} but the previous total and "
                f"the values keyed since add up to {_text(self.expected)}: keep both as on "
                "the paper; flagged for the ward")


def check_section(store: EntriesStore, instance_id: str, section: KeyedSection,
                  entry_pass: EntryPass, *, clerk: str = "") -> list[RunningCheck]:
    """Check every written running total of a section; raise (or close) each one's
    discrepancy. Returns the totals that do not add up."""
    fields = running_fields(section)
    if not fields:
        return []
    values = {(e.address.index, e.address.field_id): e
              for e in store.entries(instance_id, entry_pass)
              if e.address.section == section.id}
    found = []
    for running, addends in fields.items():
        label = section.field(running).label
        base, since = 0.0, 0
        for index in range(section.count):
            written = _number(values.get((index, running)))
            if written is None:
                continue
            address = FieldAddress(instance_id, section.id, index, running)
            expected = _expected(values, addends, range(since, index + 1), base)
            base, since = written, index + 1
            if expected is None:
                continue
            if abs(expected - written) > 0.5:
                found.append(RunningCheck(address, label, written, expected))
                store.raise_discrepancy(DiscrepancyKind.RUNNING_TOTAL, address, {
                    "handwritten": _text(written), "computed": _text(expected),
                    "label": label})
            else:
                store.close_discrepancy(DiscrepancyKind.RUNNING_TOTAL, address,
                                        by=clerk or "system",
                                        note="keyed values now add up to the written total")
    return found


def _expected(values: dict[tuple[int, str], Entry], addends: tuple[str, ...],
              rows: Iterable[int], base: float) -> float | None:
    total = base
    for index in rows:
        for field_id in addends:
            entry = values.get((index, field_id))
            if entry is None or entry.state is EntryState.NOT_RECORDED:
                continue
            number = _number(entry)
            if number is None:
                return None  # illegible or unreadable: the total cannot be checked
            total += number
    return total


def _number(entry: Entry | None) -> float | None:
    if entry is None or entry.state is not EntryState.VALUE or entry.value is None:
        return None
    try:
        return float(entry.value)
    except ValueError:
        return None


def _text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
