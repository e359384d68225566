"""What re-entry needs from the register's :class:`IssuedForm`: the keyed layout of that
very copy (how many time columns and table rows it was printed with), whether it is a
blank copy whose patient is identified by hand, and how to find it by a typed ID.
"""

from __future__ import annotations

from datetime import date

from paperfallback.formspec import ChartSection, FormSpec, TableSection
from paperfallback.reentry.layout import FormLayout, form_layout
from paperfallback.register import IssuedForm, Register
from paperfallback.scan.omr import scan_layout


def is_blank_copy(form: FormSpec, issued: IssuedForm) -> bool:
    """A form printed without a patient, for a patient the nurse names by hand."""
    return form.scope == "blank" or (form.scope == "patient" and issued.patient_id is None)


def issued_layout(form: FormSpec, issued: IssuedForm) -> FormLayout:
    """The keyed layout of one printed copy: its blank chart columns and table rows (one
    per printed sub-row: a MAR prescription with three dose times is three rows), and
    the dates of its day columns (printed ones shown, to key only if changed by hand)."""
    table_rows: dict[str, int] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for section in form.sections:
        if isinstance(section, TableSection):
            refs = [r.split(":", 1)[1] for r in issued.rows if r.split(":", 1)[0] == section.id]
            cached = len(refs)
            per_blank = section.sub_rows_blank if section.sub_rows_from else 1
            blank = max(section.blank_rows * per_blank, section.min_rows - cached, 0)
            # A blank copy fills its pages with rows: every row printed is keyable.
            table_rows[section.id] = max(cached + blank, rows_printed(issued, section.id))
            if section.sub_rows_from:
                labels[section.id] = tuple(_dose_time_label(r) for r in refs)
    return form_layout(
        form,
        blank=is_blank_copy(form, issued),
        chart_columns=issued.blank_columns or None,
        table_rows=table_rows,
        dates_printed={s: tuple(f"{d:%a %d-%b-%Y}" for d in printed_day_dates(issued, s))
                       for s in _all_table_ids(form)},
        row_labels=labels,
        prefilled_columns=issued.prefilled_columns,
        columns_per_page=_columns_per_page(form, issued),
    )


def rows_printed(issued: IssuedForm, section_id: str) -> int:
    """How many keyed rows of a table the renderer recorded drawing on this copy (0 for a
    copy printed before the boxes were recorded)."""
    layout = scan_layout(issued.extra)
    rows = [e["row"] for e in (layout or {}).get("fields", ())
            if e["section"] == section_id and e["row"] is not None]
    return max(rows) + 1 if rows else 0


def _columns_per_page(form: FormSpec, issued: IssuedForm) -> int:
    """Columns on each page of a chart printed over several pages: every page of the
    chart has the same number, the first starting with the pre-filled ones (0 when the
    chart is one page, or the register's counts do not divide evenly)."""
    chart = next((s for s in form.sections if isinstance(s, ChartSection)
                  and s.axis == "columns"), None)
    if chart is None or chart.pages <= 1 or issued.page_count != chart.pages:
        return 0  # other pages in the form: the chart's pages are not the form's
    columns = issued.blank_columns + issued.prefilled_columns
    return columns // chart.pages if columns and columns % chart.pages == 0 else 0


def _all_table_ids(form: FormSpec) -> list[str]:
    return [s.id for s in form.sections if isinstance(s, TableSection)]


def _dose_time_label(ref: str) -> str:
    _record, at, sub = ref.partition("@")
    if not at:
        return ""
    return f"dose time {sub}" if sub else "spare time row"


def printed_day_dates(issued: IssuedForm, section_id: str) -> list[date]:
    """The dates printed over a table's day columns (the MAR), or [] when none were."""
    text = issued.extra.get(f"dates:{section_id}", "")
    out = []
    for part in text.split(","):
        try:
            out.append(date.fromisoformat(part.strip()))
        except ValueError:
            return []
    return out


def row_reference(issued: IssuedForm, section_id: str, index: int) -> str | None:
    """The cached record id a pre-filled table row stands for, or None for a blank row."""
    refs = [r.split(":", 1)[1] for r in issued.rows if r.split(":", 1)[0] == section_id]
    return refs[index] if index < len(refs) else None


def find_issued(register: Register, typed_id: str) -> IssuedForm:
    """The issued form a clerk typed or scanned (a form ID, its QR payload or the
    downtime number it carries); InputError naming what is wrong."""
    from paperfallback.reentry.typed_id import locate_form

    return locate_form(register, typed_id).issued
