"""The marks on a returned chart check what was keyed from it.

For each keyed column of a scanned NEWS2-style chart, the band row that carries ink in
each parameter block is compared with the band the keyed value falls in — the same
``GraphRow.contains`` the printed chart used to place values, so paper and check cannot
disagree. A clear disagreement ("respirations keyed 27 (≥25) but the mark is in 21–24")
or a mark with nothing keyed becomes an open discrepancy for a person to settle, like a
handwritten NEWS2 total that does not add up; nothing is changed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from paperfallback.formspec import ChartSection, FormCatalogue
from paperfallback.formspec.models import ChartRow, GraphRow
from paperfallback.reentry.model import (
    DiscrepancyKind,
    Entry,
    EntryPass,
    EntryState,
    FieldAddress,
)
from paperfallback.reentry.store import EntriesStore
from paperfallback.register.store import IssuedForm
from paperfallback.scan.lineup import LinedUpPage, line_up
from paperfallback.scan.omr import (
    block_ink,
    column_places,
    marked_row,
    paper_column,
    scan_layout,
)
from paperfallback.scan.registration import Registration
from paperfallback.scan.store import ScanStore

# A page is read only when it lines up (scan.lineup: two corner squares at least) and every
# landmark sits within a fifth of a band row of where the transform puts it: a worse fit
# could read a neighbouring row, so such a page is reported, never read.
MAX_RESIDUAL_ROWS = 0.2


@dataclass(frozen=True, slots=True)
class MarkFinding:
    address: FieldAddress
    page: int
    keyed: str | None  # None: nothing keyed for this parameter in this column
    keyed_band: str | None
    marked_band: str
    column: str  # as the paper and the keying screen name it: 'column 3 on page 2'

    @property
    def message(self) -> str:
        name = self.address.field_id.replace("_", " ")
        column = self.column
        if self.keyed is None:
            return (f"{column}: {name}: nothing keyed but the paper has a mark in "
                    f"{self.marked_band}")
        band = f" ({self.keyed_band})" if self.keyed_band else ""
        return (f"{column}: {name} keyed {self.keyed}{band} but the mark is in "
                f"{self.marked_band}")

    def to_json(self) -> dict[str, Any]:
        return {"form_id": self.address.instance_id, "section": self.address.section,
                "column": self.column, "field": self.address.field_id,
                "page": self.page, "keyed": self.keyed, "keyed_band": self.keyed_band,
                "marked_band": self.marked_band, "message": self.message}


@dataclass
class MarkReport:
    findings: list[MarkFinding]
    columns_checked: int
    pages_unregistered: list[int]  # scanned pages whose landmarks could not be found


def check_marks(issued: IssuedForm, catalogue: FormCatalogue, scans: ScanStore,
                entries: EntriesStore, *, raise_discrepancies: bool = True) -> MarkReport:
    """Compare the inked band rows of every keyed, scanned column with the keyed values."""
    report = MarkReport([], 0, [])
    layout = scan_layout(issued.extra)
    returned = scans.form_pages(issued.instance_id)
    if layout is None or not returned:
        return report
    spec = catalogue.get(issued.form_id)
    registered: dict[int, LinedUpPage | None] = {}
    keyed = _effective(entries.entries(issued.instance_id))
    for chart in (s for s in spec.sections if isinstance(s, ChartSection)):
        if chart.axis != "columns":
            continue
        places = column_places(layout, chart.id)
        oxygen_field = next((f.id for f in chart.fields if f.prefill == "observation.oxygen"),
                            None)
        rows = chart.layout_rows()
        columns = sorted({a.index for a in keyed if a.section == chart.id})
        for index in columns:
            if index >= len(places) or places[index].page not in returned:
                continue
            place = places[index]
            if place.page not in registered:
                page_id, payload = returned[place.page]
                registered[place.page] = line_up(
                    scans, layout, place.page, page_id, payload,
                    max_residual_pt=MAX_RESIDUAL_ROWS * float(place.grid["row_h"]))
                if registered[place.page] is None:
                    report.pages_unregistered.append(place.page)
            page = registered[place.page]
            if page is None:
                continue
            image, reg = page.image, page.registration
            report.columns_checked += 1
            values = {a.field_id: e for a, e in keyed.items()
                      if a.section == chart.id and a.index == index}
            oxygen = _text(values.get(oxygen_field)) if oxygen_field else None
            for field_id, blocks in _blocks_by_field(rows, place.grid["blocks"]).items():
                finding = _check_field(image, reg, place, issued.instance_id, chart.id, index,
                                       paper_column(layout, chart.id, index), field_id, blocks,
                                       values.get(field_id), oxygen)
                if finding is not None:
                    report.findings.append(finding)
    if raise_discrepancies:
        for finding in report.findings:
            entries.raise_discrepancy(DiscrepancyKind.PAPER_MARK, finding.address,
                                      {"message": finding.message, "page": str(finding.page),
                                       "marked_band": finding.marked_band,
                                       "keyed": finding.keyed or ""})
    return report


def _blocks_by_field(rows: list[ChartRow], recorded: list[dict[str, Any]]
                     ) -> dict[str, list[tuple[ChartRow, float]]]:
    blocks: dict[str, list[tuple[ChartRow, float]]] = {}
    for block in recorded:
        row = rows[int(block["row"])]
        blocks.setdefault(row.field, []).append((row, float(block["top"])))
    return blocks


def _check_field(image: Image.Image, reg: Registration, place: Any, instance_id: str,
                 section: str, index: int, column: str, field_id: str,
                 blocks: list[tuple[ChartRow, float]], entry: Entry | None,
                 oxygen: str | None) -> MarkFinding | None:
    marks: list[GraphRow] = []
    for row, top in blocks:
        shares = block_ink(image, reg.transform, place, top, len(row.graph))
        marked = marked_row(shares)
        if marked is not None and marked >= 0:
            marks.append(row.graph[marked])
    if not marks:
        return None  # no clear mark: nothing to check against (never a guess)
    keyed = _text(entry)
    expected = [g for row, _ in blocks for g in row.graph if _holds(g, keyed, oxygen)] \
        if keyed is not None else []
    if keyed is not None and any(m in expected for m in marks):
        return None
    if keyed is None and entry is not None and entry.state is not EntryState.VALUE:
        return None  # keyed as illegible / not recorded: the clerk already saw the paper
    address = FieldAddress(instance_id, section, index, field_id)
    return MarkFinding(address, place.page, keyed, expected[0].label if expected else None,
                       marks[0].label, column)


def _holds(row: GraphRow, value: str, oxygen: str | None) -> bool:
    if row.choice is not None:
        return row.choice == value
    try:
        number = float(value)
    except ValueError:
        return False
    return row.contains(number, oxygen)


def _text(entry: Entry | None) -> str | None:
    if entry is None or entry.state is not EntryState.VALUE or entry.value is None:
        return None
    return entry.value


def _effective(entries: list[Entry]) -> dict[FieldAddress, Entry]:
    """The value that counts per address: the resolved one, else the first keying."""
    chosen: dict[FieldAddress, Entry] = {}
    for entry in entries:
        if entry.entry_pass is EntryPass.SECOND:
            continue
        current = chosen.get(entry.address)
        if current is None or entry.entry_pass is EntryPass.RESOLVED:
            chosen[entry.address] = entry
    return chosen
