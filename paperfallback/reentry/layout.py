"""What a clerk keys from one form: the keyed fields of a form definition, section by
section in print order, with how many time points or rows each section has.

Built from :class:`paperfallback.formspec.FormSpec` so the keying screen and the workbook
follow the paper. Repeat groups of a table (MAR days) are expanded into their keyed ids
(``<field>_<n>``), as the form definition names them. Blank copies of patient forms get
a patient identification section first: the banner boxes the nurse filled in by hand.

A table whose day columns carry a ``day_field`` (the MAR) gets a small section before
it, ``<table>.days``, holding the date of each day column (``day_date_1`` ...): written
by hand on blank copies; on copies printed with dates it is keyed only where the nurse
crossed a printed date out and wrote another (the keyed date wins on export). Table
rows may carry labels (the dose time of a MAR row) so the screen and the workbook name
the paper row the clerk is looking at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from paperfallback.formspec import (
    ChartSection,
    FieldSpec,
    FieldsSection,
    FormSpec,
    LinesSection,
    TableSection,
)
from paperfallback.formspec.models import repeat_cell_id
from paperfallback.formspec.vocabulary import PATIENT_ROLES
from paperfallback.formspec.vocabulary import PATIENT_SECTION as PATIENT_SECTION  # re-exported
from paperfallback.formspec.vocabulary import day_section_id as day_section_id  # re-exported

SectionKind = Literal["fields", "chart", "table", "lines"]
DEFAULT_TABLE_ROWS = 10

PATIENT_FIELDS: tuple[FieldSpec, ...] = tuple(
    FieldSpec.model_validate(spec)
    for spec in (
        {"id": "nhs_number", "label": "NHS number", "role": "patient.nhs_number",
         "help": "10 digits; the check digit is verified"},
        {"id": "hospital_number", "label": "Hospital number", "role": "patient.hospital_number"},
        {"id": "family", "label": "Family name", "required": True, "role": "patient.family"},
        {"id": "given", "label": "Given name(s)", "required": True, "role": "patient.given"},
        {"id": "birth_date", "label": "Date of birth", "type": "date", "required": True,
         "role": "patient.birth_date"},
    )
)


@dataclass(frozen=True, slots=True)
class KeyedSection:
    """One section as keyed: ``count`` columns (chart), rows (table) or 1 (fields)."""

    id: str
    title: str
    kind: SectionKind
    fields: tuple[FieldSpec, ...]
    count: int
    time_field: str | None = None  # chart sections: the field holding each time point
    axis: Literal["columns", "rows"] = "columns"
    time_points: tuple[str, ...] = ()  # chart axis "rows": printed labels ("07:00")
    row_labels: tuple[str, ...] = ()  # table rows: what is printed on them ("08:00")
    # chart columns: pre-filled (cache) columns printed before the first blank one, so
    # the screen numbers a column as the paper does (the first blank is 'column 8')
    columns_before: int = 0
    # chart columns printed per page when the chart runs over several pages (0: one page):
    # the paper numbers columns per page, so the screen does ('column 3 on page 2')
    columns_per_page: int = 0

    @property
    def repeats(self) -> bool:
        return self.kind in ("chart", "table")

    def paper_position(self, index: int) -> tuple[int, int]:
        """(page, column) of a keyed chart column as numbered on the paper."""
        position = index + self.columns_before
        if self.columns_per_page > 0:
            page, column = divmod(position, self.columns_per_page)
            return page + 1, column + 1
        return 1, position + 1

    def first_index_on_page(self, page: int) -> int | None:
        """The first keyed column printed on ``page`` (a scanned QR names the page)."""
        if self.kind != "chart" or self.axis != "columns" or self.columns_per_page <= 0:
            return None
        index = (page - 1) * self.columns_per_page - self.columns_before
        return index if 0 <= index < self.count else None

    def field(self, field_id: str) -> FieldSpec:
        for spec in self.fields:
            if spec.id == field_id:
                return spec
        raise KeyError(field_id)

    def index_label(self, index: int) -> str:
        """How the paper names a column or row: 'column 3', 'row 07:00'."""
        if self.kind == "chart" and self.axis == "rows" and index < len(self.time_points):
            return f"row {self.time_points[index]}"
        if self.kind == "chart":
            page, column = self.paper_position(index)
            return f"column {column}" + (f" on page {page}" if page > 1 else "")
        if self.kind == "table":
            label = self.row_labels[index] if index < len(self.row_labels) else ""
            return f"row {index + 1} ({label})" if label else f"row {index + 1}"
        return ""


@dataclass(frozen=True, slots=True)
class FormLayout:
    form: FormSpec
    sections: tuple[KeyedSection, ...]

    @property
    def form_id(self) -> str:
        return self.form.id

    def section(self, section_id: str) -> KeyedSection:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    def find_field(self, field_id: str) -> tuple[KeyedSection, FieldSpec] | None:
        for section in self.sections:
            for spec in section.fields:
                if spec.id == field_id:
                    return section, spec
        return None

    def place_of(self, section_id: str, index: int, field_id: str) -> str:
        """A field named as the paper names it: 'SpO2 (column 8)', 'Outcome (row 3)'."""
        section = self.section(section_id)
        try:
            label = section.field(field_id).label
        except KeyError:
            label = field_id
        place = section.index_label(index) if section.repeats else ""
        return f"{label} ({place})" if place else label

    @property
    def chart(self) -> KeyedSection | None:
        """The first chart section with time points across (NEWS2), if any."""
        return next((s for s in self.sections if s.kind == "chart"), None)

    @property
    def has_patient_section(self) -> bool:
        return any(s.id == PATIENT_SECTION for s in self.sections)

    def patient_identity(self, values: Mapping[str, str | None]) -> dict[str, str]:
        """The handwritten identity of a blank copy by declared role ('nhs_number',
        'family', 'birth_date' ...), from keyed ``values`` (field id -> text): the
        fields that say so in forms/*.yaml (or the patient box added to blank copies)."""
        found: dict[str, str] = {}
        for section in self.sections:
            for spec in section.fields:
                value = values.get(spec.id)
                if spec.role in PATIENT_ROLES and value:
                    found.setdefault(spec.role.removeprefix("patient."), value)
        return found


def form_layout(
    form: FormSpec,
    *,
    blank: bool = False,
    chart_columns: int | None = None,
    table_rows: dict[str, int] | None = None,
    dates_printed: dict[str, tuple[str, ...]] | None = None,
    row_labels: dict[str, tuple[str, ...]] | None = None,
    prefilled_columns: int = 0,
    columns_per_page: int = 0,
) -> FormLayout:
    """The keyed layout of ``form``.

    ``chart_columns``: blank time columns printed on this instance (default one page's
    worth); ``table_rows``: printed rows per table section (default blank + minimum rows).
    ``blank``: a blank copy of a patient form, so the patient is identified by hand.
    ``dates_printed``: per table, the dates printed over its day columns ("Tue 24-Nov");
    ``row_labels``: per table, what each printed row shows (the register's dose times).
    ``prefilled_columns``: cache columns printed before the blank ones on the first chart.
    ``columns_per_page``: columns a multi-page chart prints on each page (0: one page).
    """
    sections: list[KeyedSection] = []
    if blank and form.scope == "patient":
        sections.append(
            KeyedSection(PATIENT_SECTION, "Patient identification", "fields", PATIENT_FIELDS, 1)
        )
    for section in form.sections:
        keyed = tuple(f for f in section.all_fields() if f.keyed)
        if isinstance(section, ChartSection):
            if section.axis == "rows":
                count = len(section.time_points)
            else:
                count = chart_columns or section.blank_columns
            sections.append(
                KeyedSection(section.id, section.title, "chart", keyed, count,
                             time_field=section.time_field, axis=section.axis,
                             time_points=tuple(section.time_points),
                             columns_before=prefilled_columns if section.axis == "columns"
                             and not any(s.kind == "chart" for s in sections) else 0,
                             columns_per_page=columns_per_page if section.axis == "columns"
                             and not any(s.kind == "chart" for s in sections) else 0)
            )
        elif isinstance(section, TableSection):
            fields = tuple(f for f in section.fields if f.keyed)
            if section.repeat is not None:
                heading = ("day {n}" if section.repeat.day_field is not None
                           else section.repeat.header)
                fields += tuple(
                    spec.model_copy(update={
                        "id": repeat_cell_id(spec.id, n),
                        "label": f"{spec.label} ({heading.format(n=n)})",
                    })
                    for n in range(1, section.repeat.count + 1)
                    for spec in section.repeat.fields
                    if spec.keyed
                )
            rows = (table_rows or {}).get(section.id) or max(
                section.blank_rows, section.min_rows, 1 if section.source == "none" else 0
            ) or DEFAULT_TABLE_ROWS
            day = section.repeat.day_field if section.repeat is not None else None
            if day is not None and day.keyed:
                assert section.repeat is not None
                printed = (dates_printed or {}).get(section.id, ())
                days = tuple(
                    day.model_copy(update={
                        "id": repeat_cell_id(day.id, n),
                        "label": f"{day.label} {n}" + (
                            f" (printed {printed[n - 1]}: key only if changed by hand)"
                            if n <= len(printed) else ""),
                        "help": "the date written over this day column on the paper",
                    })
                    for n in range(1, section.repeat.count + 1)
                )
                title = f"{section.title or section.id}: dates of the day columns"
                sections.append(KeyedSection(day_section_id(section.id), title, "fields",
                                             days, 1))
            if fields:
                labels = (row_labels or {}).get(section.id, ())
                sections.append(KeyedSection(section.id, section.title, "table", fields, rows,
                                             row_labels=labels))
        elif isinstance(section, FieldsSection | LinesSection) and keyed:
            kind: SectionKind = "lines" if isinstance(section, LinesSection) else "fields"
            sections.append(KeyedSection(section.id, section.title, kind, keyed, 1))
    return FormLayout(form=form, sections=tuple(sections))
