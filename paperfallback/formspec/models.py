"""Typed models of a form definition (``forms/<id>.yaml``).

One definition drives three things: the printed page, the keying screen and the xlsx
workbook. So fields are modelled once, generically (:class:`FieldSpec`), and each section
kind says only how its fields are laid out:

- ``fields``: a box of labelled fields (the MAR allergy box, downtime registration);
- ``chart``: a time series; the keyed fields are the same at every time point (NEWS2 runs
  its time points across as columns with the RCP graph rows down; fluid balance runs
  hourly rows down);
- ``table``: repeating rows, one per cached record (a ward's patients, a clinic's
  appointments, a theatre's cases, a patient's prescriptions) then blank rows;
- ``lines``: ruled continuation notes.

Keyed data is addressed by ``(form id, section id, field id)`` plus the time point (chart)
or row number (table). Field ids are unique within a form, so ``field id`` alone is enough
once the form is known. Names here are a public API: the keying screen and the workbook
read them, so keep them stable. The closed vocabularies a definition is checked against
(field types, roles, prefill sources, section exports, score tables) are in
:mod:`paperfallback.formspec.vocabulary`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from paperfallback.domain.news2 import ACVPU_SCORE, BANDS, OXYGEN_SCORE
from paperfallback.formspec.vocabulary import (
    MEDICINE_ROLES,
    NEWS2_SCORED_ROLES,
    PATIENT_ROLES,
    PREFILL_SOURCES,
    REPEATABLE_ROLES,
    SCORE_TABLES,
    FieldRole,
    FieldType,
    FormScope,
    MedicineRows,
    SectionExport,
    TableSource,
)

_ID = r"^[a-z][a-z0-9_]*$"
V = TypeVar("V")


class _Model(BaseModel):
    """Strict models: an unknown key in a YAML file is a typo, not something to ignore."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Coding(_Model):
    """A code the field maps to on export (FHIR Coding): LOINC, SNOMED CT, UCUM ..."""

    system: str  # e.g. "http://loinc.org", "http://snomed.info/sct"
    code: str
    display: str = ""


def resolve_terms(value: Any) -> Any:
    """Codings given by name (``URINE_OUTPUT``, ``VITAL_CODES.sbp``, ``ACVPU_VALUES.A``) are
    looked up in :mod:`paperfallback.domain.terminology`, where every code PaperFallback
    writes is defined once; mappings (a site's own codes) are kept as written."""
    if not isinstance(value, list):
        return value
    from paperfallback.domain import terminology

    out: list[Any] = []
    for item in value:
        if not isinstance(item, str):
            out.append(item)
            continue
        name, _, key = item.partition(".")
        found = getattr(terminology, name, None) if name.isupper() else None
        if isinstance(found, dict) and key:
            found = found.get(key)
        codes = found if isinstance(found, tuple) else (found,)
        if not codes or not all(isinstance(c, terminology.Code) for c in codes):
            raise ValueError(f"{item!r} is not a code in paperfallback.domain.terminology "
                             "(e.g. URINE_OUTPUT, VITAL_CODES.sbp, ACVPU_VALUES.A)")
        out += [{"system": c.system, "code": c.code, "display": c.display} for c in codes]
    return out


def _codings_schema(schema: dict[str, Any]) -> None:
    """Editors accept a terminology name where a coding goes (the JSON Schema says so)."""
    schema["items"] = {"anyOf": [schema["items"], {
        "type": "string", "pattern": r"^[A-Z][A-Z0-9_]*(\.[A-Za-z0-9_]+)?$",
        "description": "a code named in paperfallback.domain.terminology, e.g. "
                       "URINE_OUTPUT, VITAL_CODES.sbp, ACVPU_VALUES.A"}]}


Codings = Annotated[list[Coding], BeforeValidator(resolve_terms),
                    Field(json_schema_extra=_codings_schema)]


class Choice(_Model):
    """One allowed value of a choice field: ``code`` is what is printed and keyed."""

    code: str  # printed and keyed, e.g. "A", "O2", "1"
    label: str  # e.g. "Alert", "Oxygen", "Scale 1"
    coding: Codings = []  # export codes for this value (SNOMED), where one exists


class FieldSpec(_Model):
    """One keyed field: the unit of data on paper, on screen and in the workbook."""

    id: Annotated[str, Field(pattern=_ID)]
    label: str
    type: FieldType = "text"
    unit: str = ""  # UCUM-style unit as printed: "/min", "%", "mmHg", "°C", "ml"
    min: float | None = None  # allowed range (numbers): keying refuses values outside
    max: float | None = None
    decimals: int = Field(default=0, ge=0, le=3)
    choices: list[Choice] = []
    code: Codings = []  # export mapping: terminology names or LOINC / SNOMED codings
    prefill: str | None = None  # a PREFILL_SOURCES name: which cache fact fills it
    required: bool = False  # keying warns when left blank
    keyed: bool = True  # False: printed for reference only (e.g. a name column)
    width: float = Field(default=1.0, gt=0)  # relative width in a table or a fields box
    lines: int = Field(default=1, ge=1, le=40)  # ruled lines for type "lines"
    help: str = ""  # shown on the keying screen and as a workbook comment
    role: FieldRole | None = None  # what the field is, for code that needs to know
    sums: list[str] = []  # a running total: the fields of its section it adds up
    bold: bool = False  # printed in bold on a shaded row (the NEWS2 total)

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.type == "choice" and not self.choices:
            raise ValueError(f"field {self.id!r} is a choice but lists no choices")
        if self.type != "choice" and self.choices:
            raise ValueError(f"field {self.id!r} has choices but is of type {self.type!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"field {self.id!r}: min {self.min} is above max {self.max}")
        if self.prefill is not None and self.prefill not in PREFILL_SOURCES:
            raise ValueError(
                f"field {self.id!r}: unknown prefill {self.prefill!r} "
                f"(known: {', '.join(sorted(PREFILL_SOURCES))})"
            )
        if self.sums and (self.role != "running_total" or self.type != "number"):
            raise ValueError(f"field {self.id!r}: only a number field with role "
                             "running_total sums other fields")
        codes = [c.code for c in self.choices]
        if len(codes) != len(set(codes)):
            raise ValueError(f"field {self.id!r}: choice codes repeat")
        return self

    def choice(self, code: str) -> Choice | None:
        """The choice printed as ``code`` (case-insensitive), if any."""
        wanted = code.strip().casefold()
        return next((c for c in self.choices if c.code.casefold() == wanted), None)


def declares_news2(fields: Iterable[FieldSpec]) -> bool:
    """True when ``fields`` declare every scored NEWS2 parameter and the total."""
    roles = {f.role for f in fields}
    return set(NEWS2_SCORED_ROLES) - {"observation_time"} <= roles and "news2.total" in roles


class GraphRow(_Model):
    """One printed row of a graph-style chart parameter (RCP NEWS2): a value range or a
    coded value. The nurse writes the value in the row it falls in."""

    label: str  # as printed: "21–24", "≥25", "Alert"
    low: float | None = None  # inclusive; None = open below
    high: float | None = None  # inclusive; None = open above
    choice: str | None = None  # for choice fields: the code this row stands for
    score_table: str | None = None  # overrides the chart row's table (SpO2 scale 2 on O2)
    when_oxygen: Literal["A", "O2"] | None = None  # only for readings on air / on oxygen

    def contains(self, value: float, oxygen: str | None = None) -> bool:
        """True when a reading (taken on ``oxygen``, if known) is written in this row."""
        if self.when_oxygen is not None and oxygen is not None and oxygen != self.when_oxygen:
            return False
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return low <= value <= high


class ChartRow(_Model):
    """How one keyed field of a chart is printed (axis "columns"): a single writing row,
    or graph rows shaded by their NEWS2 score."""

    field: str  # the id of a field in the section's ``fields``
    label: str | None = None  # defaults to the field's label
    group: str = ""  # heading printed beside a run of rows: "A+B", "C", "D", "E"
    score_table: str | None = None  # a SCORE_TABLES name: shade rows by their score
    graph: list[GraphRow] = []  # empty: one plain writing row
    spo2_scale: int | None = Field(default=None, ge=1, le=2)  # block for SpO2 scale 1 or 2

    def score_of(self, row: GraphRow) -> int | None:
        """The NEWS2 score a graph row stands for, from the domain's bands."""
        table = row.score_table or self.score_table
        if table is None:
            return None
        return graph_row_score(table, row)


def graph_row_score(table: str, row: GraphRow) -> int:
    """The score of a graph row; raises ValueError if the row spans two bands."""
    if table == "acvpu" or table == "oxygen":
        scores = ACVPU_SCORE if table == "acvpu" else OXYGEN_SCORE
        if row.choice is None or row.choice not in scores:
            raise ValueError(f"row {row.label!r} needs a choice among {sorted(scores)}")
        return scores[row.choice]
    low = -math.inf if row.low is None else row.low
    high = math.inf if row.high is None else row.high
    for band in BANDS[table]:
        if low <= band.high:
            if high > band.high or low < band.low:
                raise ValueError(
                    f"row {row.label!r} ({low}..{high}) spans more than one band of "
                    f"{table!r} (band {band.low}..{band.high} scores {band.score})"
                )
            return band.score
    raise ValueError(f"row {row.label!r} is above every band of {table!r}")  # pragma: no cover


class SectionBase(_Model):
    id: Annotated[str, Field(pattern=_ID)]
    title: str = ""
    page_break_before: bool = False  # start this section on a new page
    note: str = ""  # printed under the title (instructions, citations)
    export: SectionExport = "questionnaire-response"  # how its rows reach the EPR

    def all_fields(self) -> list[FieldSpec]:
        """Every keyed or printed field of the section, in order."""
        return list(getattr(self, "fields", []))


class FieldsSection(SectionBase):
    """A box of labelled fields, ``columns`` across."""

    kind: Literal["fields"] = "fields"
    fields: list[FieldSpec]
    columns: int = Field(default=2, ge=1, le=6)
    style: Literal["plain", "alert"] = "plain"  # "alert": a heavy red border (allergies)
    row_height_mm: float = Field(default=9.0, gt=3)


class ChartSection(SectionBase):
    """A time series. Axis "columns": time points across, ``rows`` down (NEWS2). Axis
    "rows": time points down (fixed ``time_points`` such as 24 hourly rows), fields across
    (fluid balance)."""

    kind: Literal["chart"] = "chart"
    axis: Literal["columns", "rows"] = "columns"
    time_field: str  # id of the field that holds each time point (e.g. obs_time)
    fields: list[FieldSpec]
    rows: list[ChartRow] = []  # print layout for axis "columns"; default: one per field
    prefill: Literal["observations"] | None = None  # which cached series fills time points
    prefill_columns: int = Field(default=0, ge=0)  # at most this many cached time points
    blank_columns: int = Field(default=8, ge=1)  # blank time points per page (>= 8 across)
    time_points: list[str] = []  # axis "rows": printed row labels, e.g. "07:00" .. "06:00"
    pages: int = Field(default=1, ge=1, le=10)  # per instance; pages after the first are blank
    row_height_mm: float = Field(default=4.2, gt=2)

    @model_validator(mode="after")
    def _check(self) -> ChartSection:
        ids = {f.id for f in self.fields}
        if self.time_field not in ids:
            raise ValueError(f"time_field {self.time_field!r} is not one of the fields")
        if self.axis == "columns" and self.blank_columns < 8:
            raise ValueError("a chart needs at least 8 blank columns per page")
        if self.axis == "rows" and not self.time_points:
            raise ValueError("a chart with axis 'rows' needs its time_points")
        for i, row in enumerate(self.rows):
            if row.field not in ids:
                raise ValueError(f"rows[{i}]: field {row.field!r} is not one of the fields")
            if row.score_table is not None and row.score_table not in SCORE_TABLES:
                raise ValueError(
                    f"rows[{i}]: unknown score_table {row.score_table!r} "
                    f"(known: {', '.join(sorted(SCORE_TABLES))})"
                )
            for j, graph_row in enumerate(row.graph):
                table = graph_row.score_table or row.score_table
                if table is None:
                    continue
                if table not in SCORE_TABLES:
                    raise ValueError(f"rows[{i}].graph[{j}]: unknown score_table {table!r}")
                try:
                    graph_row_score(table, graph_row)
                except ValueError as exc:
                    raise ValueError(f"rows[{i}].graph[{j}]: {exc}") from exc
        return self

    def layout_rows(self) -> list[ChartRow]:
        """The printed rows: ``rows`` if given, else one plain row per non-time field."""
        if self.rows:
            return list(self.rows)
        return [ChartRow(field=f.id) for f in self.fields if f.id != self.time_field]

    def field(self, field_id: str) -> FieldSpec:
        return next(f for f in self.fields if f.id == field_id)


class RepeatGroup(_Model):
    """Cells repeated across a table row: MAR days, a PRN administration log.

    ``day_field`` is the date of each repeat column (the MAR's days), keyed once per
    column rather than per row, so every cell below it has a known date. With
    ``print_dates`` a pre-filled copy prints the dates (the print day, then one day per
    column) and they need no keying; a blank copy (or one printed without dates) leaves
    the header to write by hand and the dates are keyed as ``<day_field>_<n>``.
    """

    count: int = Field(ge=1, le=31)
    header: str = "{n}"  # column header; "{n}" is the 1-based repeat number
    fields: list[FieldSpec]  # keyed per repeat (keyed ids get the suffix _<n>)
    width: float = Field(default=0.6, gt=0)  # relative width of each field cell
    day_field: FieldSpec | None = None  # the date of each column, keyed once per column
    print_dates: bool = False  # pre-filled copies print the dates in the header

    @model_validator(mode="after")
    def _check(self) -> RepeatGroup:
        if self.day_field is not None and self.day_field.type != "date":
            raise ValueError(f"day_field {self.day_field.id!r} must be of type date")
        if self.print_dates and self.day_field is None:
            raise ValueError("print_dates needs a day_field (the date keyed on blank copies)")
        return self


def repeat_cell_id(field_id: str, n: int) -> str:
    """The keyed id of repeat ``n`` (from 1) of a repeated field: ``<id>_<n>``."""
    return f"{field_id}_{n}"


def repeat_number(cell_id: str, field_id: str) -> int | None:
    """Which repeat of ``field_id`` the keyed ``cell_id`` is (None: not one of its)."""
    head, _, tail = cell_id.rpartition("_")
    return int(tail) if head == field_id and tail.isdigit() else None


class TableSection(SectionBase):
    """Repeating rows: one per cached record from ``source``, then ``blank_rows``.

    ``medicines`` says what the drug rows of a ``medication-administration`` section
    record (scheduled doses, an as-required log, once-only medicines and infusions); the
    roles each kind needs are checked here, so the exporter reads declarations only.
    """

    kind: Literal["table"] = "table"
    source: TableSource = "none"
    filter: dict[str, str] = {}  # e.g. {kind: regular} or {kind: "once,infusion"}
    fields: list[FieldSpec]
    repeat: RepeatGroup | None = None
    sub_rows_from: Literal["prescription.dose_times"] | None = None  # a row per dose time
    sub_rows_blank: int = Field(default=1, ge=1, le=12)  # sub-rows of a blank or timeless row
    sub_rows_min: int = Field(default=1, ge=1, le=12)  # at least this many sub-rows per row
    blank_rows: int = Field(default=0, ge=0)
    min_rows: int = Field(default=0, ge=0)  # pad with blank rows up to this many
    row_height_mm: float = Field(default=8.0, gt=3)
    font_size: float = Field(default=7.5, ge=5, le=12)
    medicines: MedicineRows | None = None  # what its drug rows record (MAR sections)

    @model_validator(mode="after")
    def _check_medicines(self) -> TableSection:
        if self.medicines is None:
            return self
        if self.export != "medication-administration":
            raise ValueError(f"section {self.id!r} declares medicines but is exported as "
                             f"{self.export!r}, not medication-administration")
        plain = {f.role for f in self.fields}
        repeated = {f.role for f in self.repeat.fields} if self.repeat is not None else set()
        where = {"dose_time": plain, "administration": repeated,
                 "administered_at": repeated if self.medicines == "as-required" else plain}
        missing = [r for r in MEDICINE_ROLES[self.medicines] if r not in where[r]]
        if missing:
            raise ValueError(
                f"section {self.id!r} ({self.medicines} medicines) needs a field with role "
                + " and one with role ".join(
                    f"{r} ({'in repeat' if where[r] is repeated else 'not repeated'})"
                    for r in missing))
        if self.medicines == "scheduled" and (self.repeat is None
                                              or self.repeat.day_field is None):
            raise ValueError(f"section {self.id!r} (scheduled medicines) needs a repeat with "
                             "a day_field: the date of each day column")
        return self

    def all_fields(self) -> list[FieldSpec]:
        if self.repeat is None:
            return list(self.fields)
        day = [self.repeat.day_field] if self.repeat.day_field is not None else []
        return list(self.fields) + list(self.repeat.fields) + day


class LinesSection(SectionBase):
    """Ruled lines for free text, with optional narrow columns (date/time, signature)."""

    kind: Literal["lines"] = "lines"
    fields: list[FieldSpec]  # one "lines" field takes the remaining width
    line_height_mm: float = Field(default=8.0, gt=4)
    pages: int = Field(default=1, ge=1, le=10)  # pages of lines to print per instance


Section = Annotated[
    FieldsSection | ChartSection | TableSection | LinesSection, Field(discriminator="kind")
]


class PageSpec(_Model):
    size: Literal["A4", "A3"] = "A4"
    orientation: Literal["portrait", "landscape"] = "portrait"
    margin_mm: float = Field(default=10.0, ge=5, le=25)


class FormSpec(_Model):
    """One form of the catalogue, as loaded from ``forms/<id>.yaml``."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    version: Annotated[str, Field(pattern=r"^\d+(\.\d+){0,2}$")]
    title: str
    short_title: str = ""
    description: str = ""
    source: str = ""  # the clinical source it follows, e.g. "RCP NEWS2 2017, chart 1"
    scope: FormScope
    page: PageSpec = PageSpec.model_construct()  # the defaults; not validated at import
    sections: list[Section] = Field(min_length=1)
    legend: list[str] = []  # printed at the foot: omission codes, score key
    registration_number: bool = False  # each copy carries a pre-allocated downtime number

    @model_validator(mode="after")
    def _check(self) -> FormSpec:
        seen_sections: set[str] = set()
        seen_fields: dict[str, str] = {}
        for section in self.sections:
            if section.id in seen_sections:
                raise ValueError(f"section id {section.id!r} is used twice")
            seen_sections.add(section.id)
            for spec in section.all_fields():
                if spec.id in seen_fields:
                    raise ValueError(
                        f"field id {spec.id!r} is used in sections {seen_fields[spec.id]!r} "
                        f"and {section.id!r}; field ids must be unique within a form"
                    )
                seen_fields[spec.id] = section.id
        if self.scope == "blank" and any(
            f.prefill for s in self.sections for f in s.all_fields()
        ):
            raise ValueError("a blank-only form cannot pre-fill fields")
        self._check_roles()
        return self

    def _check_roles(self) -> None:
        """A role names one field: twice in a section (or a patient role twice in the
        form) would make 'the' observation time or NHS number ambiguous."""
        patient_roles: dict[str, str] = {}
        for section in self.sections:
            seen: dict[str, str] = {}
            for spec in section.all_fields():
                if spec.role is None:
                    continue
                if spec.role in seen and spec.role not in REPEATABLE_ROLES:
                    raise ValueError(
                        f"section {section.id!r}: fields {seen[spec.role]!r} and {spec.id!r} "
                        f"both have role {spec.role!r}"
                    )
                seen[spec.role] = spec.id
                if spec.role in PATIENT_ROLES:
                    if spec.role in patient_roles:
                        raise ValueError(
                            f"fields {patient_roles[spec.role]!r} and {spec.id!r} both have "
                            f"role {spec.role!r}"
                        )
                    patient_roles[spec.role] = spec.id
            numbers = {f.id for f in section.all_fields() if f.type == "number"}
            for spec in section.all_fields():
                wrong = [s for s in spec.sums if s not in numbers or s == spec.id]
                if wrong:
                    raise ValueError(
                        f"section {section.id!r}: {spec.id!r} sums {', '.join(wrong)}, which "
                        "are not other number fields of the section")
            if section.export == "news2-vital-signs":
                missing = [r for r in NEWS2_SCORED_ROLES if r not in seen]
                if section.kind != "chart" or missing:
                    raise ValueError(
                        f"section {section.id!r} is exported as NEWS2 but is not a chart "
                        f"declaring the roles {', '.join(missing) or 'of a chart'}"
                    )
            if section.export == "medication-administration" and (
                    getattr(section, "medicines", None) is None):
                raise ValueError(
                    f"section {section.id!r} is exported as medication-administration but "
                    "does not say what its rows record: add medicines: scheduled, "
                    "as-required or once-only (a table of prescriptions)")
            if section.export == "observation" and not (
                {"observation_time", "time_point"} & set(seen) or self.role_field("chart_date")
            ):
                raise ValueError(
                    f"section {section.id!r} is exported as observations but no field says "
                    "when: give one the role observation_time (or time_point, with a "
                    "chart_date field in the form)"
                )

    def section(self, section_id: str) -> Section | None:
        """The section with this id, if any."""
        return next((s for s in self.sections if s.id == section_id), None)

    def role_field(self, role: str, section_id: str | None = None) -> FieldSpec | None:
        """The field declaring ``role`` (in ``section_id``, else the first in the form)."""
        for section in self.sections:
            if section_id is not None and section.id != section_id:
                continue
            for spec in section.all_fields():
                if spec.role == role:
                    return spec
        return None

    def role_of(self, field_id: str) -> str | None:
        """The declared role of a field (None: no role, or no such field)."""
        for _section, spec in self.fields():
            if spec.id == field_id:
                return spec.role
        return None

    def roles(self, section_id: str) -> dict[str, str]:
        """role -> field id for the (non-repeated) fields of a section."""
        section = self.section(section_id)
        if section is None:
            return {}
        return {f.role: f.id for f in getattr(section, "fields", []) if f.role is not None}

    def medicines(self, section_id: str) -> str | None:
        """What the drug rows of a section record (``MedicineRows``), None for others."""
        section = self.section(section_id)
        return getattr(section, "medicines", None) if section is not None else None

    def news2_values(self, section_id: str, values: Mapping[str, V]) -> dict[str, V]:
        """A column's values (field id -> value) keyed as the NEWS2 input builder names
        them (``paperfallback.domain.news2_input``), through the declared roles, so a
        chart whose fields have other ids is scored the same way."""
        from paperfallback.domain.news2_input import TOTAL

        return {(TOTAL if parameter == "total" else parameter): values[field_id]
                for parameter, field_id in self.news2_fields(section_id).items()
                if field_id in values}

    def news2_fields(self, section_id: str) -> dict[str, str]:
        """NEWS2 parameter ('resp_rate' ... 'total') -> field id, as the section declares."""
        return {role.removeprefix("news2."): fid for role, fid in self.roles(section_id).items()
                if role.startswith("news2.")}

    @property
    def display_title(self) -> str:
        return self.short_title or self.title

    def fields(self) -> list[tuple[Section, FieldSpec]]:
        """Every field with its section, in print order: what keying screens iterate."""
        return [(s, f) for s in self.sections for f in s.all_fields()]

    def field(self, field_id: str) -> FieldSpec:
        for _section, spec in self.fields():
            if spec.id == field_id:
                return spec
        raise KeyError(field_id)

    def charts(self) -> list[ChartSection]:
        return [s for s in self.sections if isinstance(s, ChartSection)]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a form definition (for editors and IT who write new forms)."""
    return FormSpec.model_json_schema()
