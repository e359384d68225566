"""``export --to``: the plan queued in the send log as it is built, never held whole.

The file export writes each form's entries as they are built (``fhir_writer``); sending
does the same into the work store's send log (``send_state``): each unit's entries are
queued when the unit is built, in one transaction for the whole export (all or nothing,
as before), and the send then reads the log back a unit at a time (``SendLog.units``).
Memory holds a form and a chunk, not the export (issue 15).

A dry run must change nothing and lock nothing: it copies this server's rows into a
scratch log (a throwaway encrypted work store), queues the plan there, and walks the
chunks the real send would post, counting and checking them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from paperfallback.export.fhir_common import BuiltEntry
from paperfallback.export.model import ExportedForm
from paperfallback.export.send import SendOptions, count_types, new_entry, pack
from paperfallback.export.send_state import QueuedEntry, SendLog
from paperfallback.workstore import scratch_work_store

BUNDLES_SHOWN = 20  # a dry run lists the first Bundles, and counts the rest


class SendQueue:
    """The plan's sink (``fhir_bundle.EntrySink``): each unit queued as it is built."""

    def __init__(self, log: SendLog, target: str, *, now: datetime,
                 conditional_references: bool) -> None:
        self.log, self.target, self.now = log, target, now
        self.conditional_references = conditional_references
        self.form_ids: dict[str, str] = {}  # instance -> form id of the keyed forms read
        self.queued = self.known = 0

    def forms(self, forms: Iterable[ExportedForm]) -> Iterator[ExportedForm]:
        """``forms``, passed on as read, remembering which form each instance is."""
        for form in forms:
            self.form_ids[form.instance_id] = form.form_id
            yield form

    def write_unit(self, entries: Sequence[BuiltEntry], unit_key: str, /) -> None:
        form_id = self.form_ids.get(unit_key.split("/", 1)[0], "")
        queued, known = self.log.queue(self.target, [
            new_entry(e, unit_key, form_id, conditional_references=self.conditional_references)
            for e in entries], now=self.now)
        self.queued += queued
        self.known += known


@dataclass
class Preview:
    """What a send would post, as a dry run shows it."""

    entries: int = 0
    types: Counter[str] = field(default_factory=Counter)
    bundles: int = 0
    bundle_lines: list[str] = field(default_factory=list)  # the first BUNDLES_SHOWN
    invalid: list[str] = field(default_factory=list)


def preview(log: SendLog, target: str, options: SendOptions,
            validate: Callable[[Sequence[QueuedEntry]], list[str]]) -> Preview:
    """Walk the chunks ``send_pending`` would post, one at a time: count, list the first
    ones and check every entry with ``validate``."""
    seen = Preview()
    for groups in pack(log.units(target), max(1, options.chunk_size),
                       options.max_bundle_bytes):
        flat = [q for g in groups for q in g]
        seen.entries += len(flat)
        seen.types.update(q.resource_type for q in flat)
        seen.bundles += 1
        if len(seen.bundle_lines) < BUNDLES_SHOWN:
            seen.bundle_lines.append(bundle_line(flat))
        seen.invalid.extend(validate(flat))
    return seen


def bundle_line(flat: Sequence[QueuedEntry]) -> str:
    forms = sorted({q.instance_id for q in flat})
    types = ", ".join(f"{k} {v}" for k, v in count_types(flat).items())
    return (f"{len(flat)} entries ({types}) from forms {', '.join(forms[:8])}"
            + (" ..." if len(forms) > 8 else ""))


@contextmanager
def scratch_copy(log: SendLog, target: str) -> Iterator[SendLog]:
    """A throwaway send log holding ``target``'s current rows (``SendLog.copy_to``)."""
    with scratch_work_store() as work:
        scratch = SendLog(work)
        log.copy_to(scratch, target)
        yield scratch
