"""What re-entry needs from the register's :class:`IssuedForm`: the keyed layout of that
very copy (how many time columns and table rows it was printed with), whether it is a
blank copy whose patient is identified by hand, and how to find it by a typed ID.
"""

from __future__ import annotations

from paperfallback.domain.errors import InputError
from paperfallback.formspec import FormSpec, TableSection
from paperfallback.reentry.layout import FormLayout, form_layout
from paperfallback.register import IssuedForm, Register, validate_instance_id


def is_blank_copy(form: FormSpec, issued: IssuedForm) -> bool:
    """A form printed without a patient, for a patient the nurse names by hand."""
    return form.scope == "blank" or (form.scope == "patient" and issued.patient_id is None)


def issued_layout(form: FormSpec, issued: IssuedForm) -> FormLayout:
    """The keyed layout of one printed copy: its blank chart columns and table rows."""
    table_rows: dict[str, int] = {}
    for section in form.sections:
        if isinstance(section, TableSection):
            cached = sum(1 for r in issued.rows if r.split(":", 1)[0] == section.id)
            per_blank = section.sub_rows_blank if section.sub_rows_from else 1
            blank = max(section.blank_rows * per_blank, section.min_rows - cached, 0)
            table_rows[section.id] = cached + blank
    return form_layout(
        form,
        blank=is_blank_copy(form, issued),
        chart_columns=issued.blank_columns or None,
        table_rows=table_rows,
    )


def row_reference(issued: IssuedForm, section_id: str, index: int) -> str | None:
    """The cached record id a pre-filled table row stands for, or None for a blank row."""
    refs = [r.split(":", 1)[1] for r in issued.rows if r.split(":", 1)[0] == section_id]
    return refs[index] if index < len(refs) else None


def find_issued(register: Register, typed_id: str) -> IssuedForm:
    """The issued form a clerk typed or scanned; InputError naming what is wrong.

    The check character catches a mistyped ID before any lookup.
    """
    normal = validate_instance_id(typed_id)
    issued = register.get(normal)
    if issued is None:
        raise InputError(
            f"form {normal} is not in this PC's register: was it printed on another PC?"
        )
    return issued
