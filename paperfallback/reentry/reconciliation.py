"""Reconciliation: what was printed, what has come back and been keyed, verified and
exported, per ward and form, and every open discrepancy with its form-instance ID.

``paperfallback entries status [--json]`` and the keying window's reconciliation view
both show :func:`reconcile`'s report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from paperfallback.cache.staleness import format_uk
from paperfallback.reentry.model import Discrepancy, InstanceStatus
from paperfallback.reentry.store import EntriesStore, InstanceRecord
from paperfallback.reentry.workflow import discrepancy_rates, double_entry_required
from paperfallback.register import COVER_FORM_ID, IssuedForm

STATUSES = [s.value for s in InstanceStatus]


@dataclass(frozen=True, slots=True)
class InstanceLine:
    instance_id: str
    form_id: str
    ward: str
    patient: str
    printed_at: str
    status: InstanceStatus
    double_entry: bool
    keyed_by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id, "form_id": self.form_id, "ward": self.ward,
            "patient": self.patient, "printed_at": self.printed_at,
            "status": self.status.value, "double_entry": self.double_entry,
            "keyed_by": self.keyed_by,
        }


@dataclass
class Report:
    instances: list[InstanceLine] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    rates: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        found = Counter(line.status.value for line in self.instances)
        return {s: found.get(s, 0) for s in STATUSES}

    def by_ward_and_form(self) -> list[dict[str, Any]]:
        groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for line in self.instances:
            groups[(line.ward, line.form_id)][line.status.value] += 1
        return [
            {"ward": ward, "form_id": form_id, "total": sum(c.values()),
             **{s: c.get(s, 0) for s in STATUSES}}
            for (ward, form_id), c in sorted(groups.items())
        ]

    def not_returned(self) -> list[InstanceLine]:
        return [line for line in self.instances if line.status is InstanceStatus.PRINTED]

    def backlog(self) -> dict[str, Any]:
        counts = self.counts()
        total = len(self.instances)
        done = counts["keyed"] + counts["verified"] + counts["exported"]
        return {"total": total, "done": done, "to_key": counts["printed"] + counts["draft"],
                "done_share": round(done / total, 3) if total else 1.0}

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "backlog": self.backlog(),
            "by_ward_and_form": self.by_ward_and_form(),
            "not_returned": [line.instance_id for line in self.not_returned()],
            "instances": [line.to_json() for line in self.instances],
            "discrepancies": [_discrepancy_json(d) for d in self.discrepancies],
            "discrepancy_rates": self.rates,
        }


def _discrepancy_json(d: Discrepancy) -> dict[str, Any]:
    return {
        "id": d.id, "kind": d.kind.value, "instance_id": d.address.instance_id,
        "section": d.address.section, "index": d.address.index,
        "field_id": d.address.field_id, "detail": d.detail, "description": d.describe(),
        "raised_at": d.raised_at.isoformat(),
    }


def reconcile(
    issued: Iterable[IssuedForm], store: EntriesStore, *, double_entry_forms: Iterable[str] = ()
) -> Report:
    """Join the register with the entries store (instances keyed here but printed on
    another PC still appear, with what is known of them)."""
    forms = set(double_entry_forms)
    records: dict[str, InstanceRecord] = {r.instance_id: r for r in store.instances()}
    report = Report()
    seen = set()
    for item in issued:
        seen.add(item.instance_id)
        if item.form_id == COVER_FORM_ID:
            continue  # nothing on a cover sheet is keyed back
        record = records.get(item.instance_id)
        report.instances.append(InstanceLine(
            instance_id=item.instance_id, form_id=item.form_id,
            ward=item.ward_code or item.clinic or item.theatre or "",
            patient=item.patient_name or (record.patient_match if record else ""),
            printed_at=format_uk(item.printed_at),
            status=record.status if record else InstanceStatus.PRINTED,
            double_entry=double_entry_required(record, item.form_id, forms),
            keyed_by=", ".join(c for c in (record.first_clerk, record.second_clerk) if c)
            if record else "",
        ))
    for instance_id, record in sorted(records.items()):
        if instance_id not in seen:
            report.instances.append(InstanceLine(
                instance_id=instance_id, form_id=record.form_id, ward="", patient="",
                printed_at="", status=record.status,
                double_entry=double_entry_required(record, record.form_id, forms),
                keyed_by=record.first_clerk,
            ))
    report.discrepancies = store.discrepancies()
    report.rates = discrepancy_rates(store).to_json()
    return report
