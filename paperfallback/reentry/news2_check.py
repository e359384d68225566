"""Recompute NEWS2 from the keyed parameters of a chart column and compare it with the
total the nurse wrote.

A difference is a clinical finding (the patient may have been under-escalated), so it is
recorded as an open discrepancy for the clerk and the ward; neither the handwritten total
nor any parameter is ever changed to make them agree. Scoring is
:func:`paperfallback.domain.news2.score` (RCP NEWS2 2017, chart 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from paperfallback.domain.news2 import News2Score
from paperfallback.domain.news2_input import PARAMETERS, TOTAL, news2_input
from paperfallback.formspec import FieldSpec, declares_news2
from paperfallback.reentry.model import DiscrepancyKind, Entry, EntryState, FieldAddress
from paperfallback.reentry.store import EntriesStore

TOTAL_FIELD = TOTAL
__all__ = ["PARAMETERS", "TOTAL_FIELD", "ColumnScore", "check_column", "column_score",
           "is_news2_chart"]


@dataclass(frozen=True, slots=True)
class ColumnScore:
    """The score of one keyed time point, or why it cannot be computed yet."""

    computed: News2Score | None
    missing: tuple[str, ...]  # parameters not keyed as values (blank, illegible, not recorded)
    handwritten: int | None
    scale: int

    @property
    def differs(self) -> bool:
        return (
            self.computed is not None
            and self.handwritten is not None
            and self.computed.total != self.handwritten
        )


def is_news2_chart(fields: Iterable[FieldSpec]) -> bool:
    """A chart whose fields declare every scored NEWS2 parameter and the total (roles
    ``news2.*`` in forms/*.yaml), never guessed from field ids."""
    return declares_news2(fields)


def column_score(values: Mapping[str, Entry], *, printed_scale: int | None) -> ColumnScore:
    """Score a column from its entries (NEWS2 parameter -> entry of the pass being
    checked: ``FormSpec.news2_values`` maps a section's fields by their roles), on the
    keyed "Scale used", else the scale printed on the chart (the issued form's)."""
    built = news2_input(
        {f: e.value for f, e in values.items() if e.state is EntryState.VALUE},
        printed_scale=printed_scale)
    return ColumnScore(built.score, built.missing, built.handwritten, built.scale)


def check_column(
    store: EntriesStore,
    instance_id: str,
    section_id: str,
    index: int,
    values: Mapping[str, Entry],
    *,
    printed_scale: int | None,
    clerk: str = "",
    total_field: str = TOTAL_FIELD,
) -> ColumnScore:
    """Score a column and open (or close) its NEWS2 discrepancy accordingly.

    The discrepancy closes by itself only when the keyed values now agree (a keying slip
    corrected); a real difference on the paper stays open until someone acknowledges it.
    """
    result = column_score(values, printed_scale=printed_scale)
    address = FieldAddress(instance_id, section_id, index, total_field)
    if result.differs and result.computed is not None:
        store.raise_discrepancy(
            DiscrepancyKind.NEWS2_TOTAL,
            address,
            {
                "handwritten": str(result.handwritten),
                "computed": str(result.computed.total),
                "risk": result.computed.risk.value,
                "scale": str(result.scale),
                "components": ", ".join(f"{k} {v}" for k, v in result.computed.components.items()),
            },
        )
    elif result.computed is not None and result.handwritten is not None:
        store.close_discrepancy(
            DiscrepancyKind.NEWS2_TOTAL, address, by=clerk or "system",
            note="keyed values now agree with the handwritten total",
        )
    return result
