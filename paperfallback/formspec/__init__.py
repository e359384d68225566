"""Form definitions as data: typed models of ``forms/*.yaml`` and their loader.

The same :class:`FormSpec` drives the printed page (``paperfallback.render``), the keying
screen and the xlsx workbook, so a field added to a YAML file appears everywhere at once.
"""

from paperfallback.formspec.catalogue import (
    FormCatalogue,
    load_catalogue,
    load_form,
    site_catalogue,
)
from paperfallback.formspec.models import (
    ChartRow,
    ChartSection,
    Choice,
    Coding,
    FieldSpec,
    FieldsSection,
    FormSpec,
    GraphRow,
    LinesSection,
    PageSpec,
    RepeatGroup,
    Section,
    TableSection,
    declares_news2,
)
from paperfallback.formspec.vocabulary import (
    FIELD_ROLES,
    PREFILL_SOURCES,
    SCORE_TABLES,
    FieldType,
    FormScope,
)

__all__ = [
    "FIELD_ROLES",
    "PREFILL_SOURCES",
    "SCORE_TABLES",
    "ChartRow",
    "ChartSection",
    "Choice",
    "Coding",
    "FieldSpec",
    "FieldType",
    "FieldsSection",
    "FormCatalogue",
    "FormScope",
    "FormSpec",
    "GraphRow",
    "LinesSection",
    "PageSpec",
    "RepeatGroup",
    "Section",
    "TableSection",
    "declares_news2",
    "load_catalogue",
    "load_form",
    "site_catalogue",
]
