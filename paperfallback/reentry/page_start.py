"""Where a scanned page's part of a form starts (issue #13 item 10).

A handheld scanner types the QR payload ``ID/page``; the clerk holds that page, so the
cursor goes to that page's part of the form: its first field in paper order, or, when
some of the page is keyed already, the field after the last one keyed there. The
renderer recorded per page where every keyable box was drawn (``scan_layout``: chart
columns in ``grids``, fields and table rows in ``fields``), so no rule of thumb about rows
per page is needed: a MAR's page 2 starts at the first dose-time row printed on page 2,
however many rows page 1 held. A form printed before the boxes were recorded has no
answer here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from paperfallback.reentry.layout import FormLayout
from paperfallback.reentry.model import FieldAddress
from paperfallback.register import IssuedForm
from paperfallback.scan.omr import column_places, scan_layout

Place = tuple[str, int, str]  # section id, index (column / row, 0 outside tables), field id


def places_on_page(issued: IssuedForm, layout: FormLayout, page: int) -> set[Place] | None:
    """Every keyed field printed on ``page`` of this copy; None when its boxes were not
    recorded (printed by an older version)."""
    recorded = scan_layout(issued.extra)
    if recorded is None or "fields" not in recorded:
        return None
    found: set[Place] = {
        (str(e["section"]), int(e["row"] or 0), str(e["field"]))
        for e in recorded["fields"] if int(e["page"]) == page
    }
    for section in layout.sections:
        if section.kind == "chart" and section.axis == "columns":
            for index, place in enumerate(column_places(recorded, section.id)):
                if place.page == page:
                    found.update((section.id, index, f.id) for f in section.fields)
    return found


def first_on_page(addresses: Iterable[FieldAddress], keyed: Collection[FieldAddress],
                  issued: IssuedForm, layout: FormLayout, page: int) -> FieldAddress | None:
    """Where to carry on keying ``page``: the first field after the last one keyed among
    those printed on it (paper order), the first of them when none is keyed; None when
    nothing keyable is recorded there (or no boxes were recorded at all)."""
    on_page = places_on_page(issued, layout, page)
    if not on_page:
        return None
    here = [a for a in addresses if (a.section, a.index, a.field_id) in on_page]
    if not here:
        return None
    last = max((i for i, a in enumerate(here) if a in keyed), default=-1)
    return next((a for a in here[last + 1:] if a not in keyed),
                next((a for a in here if a not in keyed), here[0]))
