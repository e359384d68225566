"""The recovery report: what happened to a ward's paper after an outage, for governance.

For a ward and an outage period it lists, by patient, every form printed, the pages that
came back (scan-back), and how far each form has gone on its way into the record
(keyed, verified, exported), with what is still missing named by form ID and page, so
the ward and the data manager can chase the paper that is still out. It is printed and
filed: every page carries the ward, the period, when it was made and "Page x of y".
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paperfallback.cache.staleness import format_uk
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.reentry.model import InstanceStatus
from paperfallback.reentry.store import InstanceRecord
from paperfallback.register.store import COVER_FORM_ID, IssuedForm


@dataclass(frozen=True, slots=True)
class FormLine:
    instance_id: str
    form: str
    pages: int
    returned: tuple[int, ...]
    status: InstanceStatus
    accepted: int = 0  # resources the EPR accepted (export --to), 0 when never sent
    rejected: int = 0

    @property
    def missing(self) -> tuple[int, ...]:
        return tuple(p for p in range(1, self.pages + 1) if p not in self.returned)

    @property
    def keyed(self) -> bool:
        return self.status.rank >= InstanceStatus.KEYED.rank

    @property
    def verified(self) -> bool:
        return self.status.rank >= InstanceStatus.VERIFIED.rank or (
            self.status is InstanceStatus.EXPORTED)

    @property
    def exported(self) -> bool:
        return self.status is InstanceStatus.EXPORTED


@dataclass
class RecoveryReport:
    ward: str
    start: datetime | None
    end: datetime | None
    made_at: datetime
    patients: dict[str, list[FormLine]] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        lines = [line for forms in self.patients.values() for line in forms]
        return {
            "forms printed": len(lines),
            "pages printed": sum(line.pages for line in lines),
            "pages returned": sum(len(line.returned) for line in lines),
            "forms fully returned": sum(1 for line in lines if not line.missing),
            "forms keyed": sum(1 for line in lines if line.keyed),
            "forms verified (double entry)": sum(1 for line in lines if line.verified),
            "forms exported": sum(1 for line in lines if line.exported),
            "forms accepted by the EPR": sum(1 for line in lines
                                             if line.accepted and not line.rejected),
            "forms with resources the EPR rejected": sum(1 for line in lines if line.rejected),
            "pages still missing": sum(len(line.missing) for line in lines),
        }


def build_report(issued: Iterable[IssuedForm], returned: dict[str, set[int]],
                 instances: Iterable[InstanceRecord], *, ward: str,
                 sent: dict[str, tuple[int, int]] | None = None,
                 start: datetime | None = None, end: datetime | None = None,
                 now: datetime | None = None) -> RecoveryReport:
    """Gather the report from the register, the scanned pages, the entries' status and,
    where the export was sent to the EPR, ``sent``: form ID → (accepted, rejected)."""
    status = {i.instance_id: i.status for i in instances}
    report = RecoveryReport(ward, start, end, now or datetime.now(UTC))
    for item in issued:
        if item.form_id == COVER_FORM_ID:
            continue
        if ward and item.ward_code.casefold() != ward.casefold():
            continue
        if (start and item.printed_at < start) or (end and item.printed_at > end):
            continue
        who = _patient(item)
        report.patients.setdefault(who, []).append(FormLine(
            item.instance_id, item.form_id, item.page_count,
            tuple(sorted(returned.get(item.instance_id, ()))),
            status.get(item.instance_id, InstanceStatus.PRINTED),
            *(sent or {}).get(item.instance_id, (0, 0))))
    return report


def _patient(item: IssuedForm) -> str:
    ident = (format_nhs_number(item.nhs_number) if item.nhs_number else
             item.hospital_number or item.downtime_number or "")
    if item.patient_name:
        bed = f", bed {item.bed}" if item.bed else ""
        return f"{item.patient_name} ({ident}){bed}" if ident else item.patient_name
    if item.scope == "blank":
        return "Blank forms (patient written by hand)"
    return "Ward and list forms"


def write_report_pdf(report: RecoveryReport, out: Path) -> Path:
    """The report as an A4 PDF (ReportLab platypus), written to ``out`` atomically."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from paperfallback.render.fonts import BOLD, REGULAR, register_fonts

    register_fonts()
    body = ParagraphStyle("body", fontName=REGULAR, fontSize=8.5, leading=10.5)
    head = ParagraphStyle("head", fontName=BOLD, fontSize=13, leading=16)
    sub = ParagraphStyle("sub", fontName=BOLD, fontSize=9.5, leading=12, spaceBefore=6)
    period = (f"{format_uk(report.start) if report.start else 'the first form printed'} to "
              f"{format_uk(report.end) if report.end else 'now'}")
    running = (f"Recovery report · ward {report.ward or 'all wards'} · {period} · "
               f"made {format_uk(report.made_at)}")

    def furniture(total: int) -> Any:
        def draw(c: Any, _doc: Any) -> None:
            c.saveState()
            c.setFont(REGULAR, 7)
            c.drawString(15 * mm, 10 * mm, running)
            c.drawRightString(195 * mm, 10 * mm, f"Page {c.getPageNumber()} of {total}")
            c.restoreState()
        return draw

    story: list[object] = [
        Paragraph("Downtime paper recovery report", head),
        Paragraph(f"Ward: {report.ward or 'all wards'}. Period: {period}. "
                  f"Made {format_uk(report.made_at)} by PaperFallback.", body),
        Spacer(1, 4 * mm),
    ]
    totals = [[k.capitalize(), str(v)] for k, v in report.totals().items()]
    grid = TableStyle([("FONT", (0, 0), (-1, -1), REGULAR, 8),
                       ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                       ("VALIGN", (0, 0), (-1, -1), "TOP")])
    story.append(Table(totals, colWidths=[70 * mm, 25 * mm], style=grid, hAlign="LEFT"))
    header = ["Form ID", "Form", "Pages back", "Keyed", "Verified", "Exported", "EPR",
              "Missing pages"]
    for patient in sorted(report.patients):
        story.append(Paragraph(patient, sub))
        rows: list[list[str]] = [header]
        for line in report.patients[patient]:
            rows.append([line.instance_id, line.form, f"{len(line.returned)}/{line.pages}",
                         _yes(line.keyed), _yes(line.verified), _yes(line.exported),
                         _epr(line), ", ".join(map(str, line.missing)) or "none"])
        table = Table(rows, repeatRows=1, hAlign="LEFT",
                      colWidths=[28 * mm, 30 * mm, 19 * mm, 14 * mm, 16 * mm, 16 * mm, 22 * mm,
                                 35 * mm])
        table.setStyle(grid)
        table.setStyle(TableStyle([("FONT", (0, 0), (-1, 0), BOLD, 8),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6"))]))
        story.append(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")

    def build(total: int) -> int:
        doc = SimpleDocTemplate(str(tmp), pagesize=A4, leftMargin=15 * mm,
                                rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=18 * mm,
                                title="Recovery report", invariant=1)
        doc.build(copy.deepcopy(story), onFirstPage=furniture(total),
                  onLaterPages=furniture(total))
        return int(doc.page)

    build(build(0))  # the first pass counts the pages, so every page says "of y"
    tmp.replace(out)
    return out


def _epr(line: FormLine) -> str:
    if line.rejected:
        return f"{line.rejected} rejected"
    return f"{line.accepted} accepted" if line.accepted else "-"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
