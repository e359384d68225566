"""The vocabulary of re-entry: passes, entry states, instance status, keyed values.

A keyed value is addressed by where it sits on the paper: the form instance, the section,
the index within the section (chart column or table row, 0 for plain fields) and the
field id from the form definition. The same address in a different *pass* (first,
second or resolved keying) is a different entry, so double entry stays blind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EntryPass(StrEnum):
    """Which keying of the paper a value belongs to."""

    FIRST = "first"
    SECOND = "second"  # the blind second keying of a double-entry form
    RESOLVED = "resolved"  # typed from the paper by a third person where the two differ


class EntryState(StrEnum):
    """What the clerk found on the paper for one field."""

    VALUE = "value"
    ILLEGIBLE = "illegible"
    NOT_RECORDED = "not_recorded"


class InstanceStatus(StrEnum):
    """Where a printed form is on its way back into the record (in this order)."""

    PRINTED = "printed"  # issued, nothing keyed yet
    DRAFT = "draft"  # keying started
    KEYED = "keyed"  # first keying finished (and the second, for double entry)
    VERIFIED = "verified"  # double entry: every difference resolved from the paper
    EXPORTED = "exported"  # written to an export file

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = list(InstanceStatus)


@dataclass(frozen=True, slots=True, order=True)
class FieldAddress:
    """Where one value sits on the paper."""

    instance_id: str
    section: str
    index: int  # chart column / table row, from 0; 0 for plain fields
    field_id: str

    def label(self) -> str:
        where = f"{self.section}[{self.index + 1}]" if self.index else self.section
        return f"{self.instance_id} {where}.{self.field_id}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One keyed field as stored. ``value`` is the canonical text (see validation)."""

    address: FieldAddress
    entry_pass: EntryPass
    value: str | None
    state: EntryState
    keyed_by: str
    keyed_at: datetime
    source: str = "screen"  # screen, workbook, or scan-confirmed (a tick the clerk confirmed)

    @property
    def shown(self) -> str:
        """How the entry reads on a screen or in a report."""
        if self.state is EntryState.ILLEGIBLE:
            return "[illegible]"
        if self.state is EntryState.NOT_RECORDED:
            return "[not recorded]"
        return self.value or ""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change to a keyed field: nothing is overwritten without a trace."""

    address: FieldAddress
    entry_pass: EntryPass
    old_value: str | None
    old_state: EntryState | None
    new_value: str | None
    new_state: EntryState | None  # None: the value was cleared (keyed in error)
    changed_by: str
    changed_at: datetime
    source: str


class DiscrepancyKind(StrEnum):
    NEWS2_TOTAL = "news2_total"  # handwritten total differs from the keyed parameters
    DOUBLE_ENTRY = "double_entry"  # the two blind keyings differ
    RUNNING_TOTAL = "running_total"  # a written running total does not add up (fluid balance)
    PAPER_MARK = "paper_mark"  # a band row or tick box inked on the scan disagrees with the key


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """An open question for a person: never settled by the software on its own."""

    id: int
    kind: DiscrepancyKind
    address: FieldAddress
    detail: dict[str, str]
    is_open: bool
    raised_at: datetime
    closed_at: datetime | None = None
    closed_by: str = ""
    note: str = ""

    def describe(self) -> str:
        if self.kind is DiscrepancyKind.NEWS2_TOTAL:
            return (
                f"NEWS2 total written as {self.detail.get('handwritten')} but the keyed "
                f"observations score {self.detail.get('computed')}"
            )
        if self.kind is DiscrepancyKind.RUNNING_TOTAL:
            return (
                f"{self.detail.get('label', 'Running total')} written as "
                f"{self.detail.get('handwritten')} but the values keyed add up to "
                f"{self.detail.get('computed')}"
            )
        if self.kind is DiscrepancyKind.PAPER_MARK:  # a band row or tick on the scanned page
            return self.detail.get("message") or "the mark on the paper disagrees with the key"
        # Blind (R-ENT-6): neither keying's value is shown, or the clerks would make the
        # two entries agree with each other instead of with the paper. Only the resolver's
        # view (`entries differences --resolver`) reads the values from ``detail``.
        return "the two keyings differ; a third person will resolve them against the paper"
