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

from paperfallback.domain.news2 import News2Observation, News2Score, score
from paperfallback.formspec import FieldSpec, declares_news2
from paperfallback.reentry.model import DiscrepancyKind, Entry, EntryState, FieldAddress
from paperfallback.reentry.store import EntriesStore

PARAMETERS = ("resp_rate", "spo2", "oxygen", "sbp", "pulse", "acvpu", "temp")
TOTAL_FIELD = "news2_total"


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


def column_score(values: Mapping[str, Entry], *, default_scale: int = 1) -> ColumnScore:
    """Score a column from its entries (field id -> entry of the pass being checked)."""
    def number(field_id: str) -> float | None:
        entry = values.get(field_id)
        if entry is None or entry.state is not EntryState.VALUE or entry.value is None:
            return None
        try:
            return float(entry.value)
        except ValueError:
            return None

    def text(field_id: str) -> str | None:
        entry = values.get(field_id)
        if entry is None or entry.state is not EntryState.VALUE:
            return None
        return entry.value

    scale_text = text("spo2_scale")
    scale = int(scale_text) if scale_text in ("1", "2") else default_scale
    numbers = {p: number(p) for p in ("resp_rate", "spo2", "sbp", "pulse", "temp")}
    codes = {p: text(p) for p in ("oxygen", "acvpu")}
    missing = tuple(p for p in PARAMETERS if (numbers.get(p) if p in numbers else codes[p]) is None)
    total = number(TOTAL_FIELD)
    handwritten = int(total) if total is not None else None
    if missing:
        return ColumnScore(None, missing, handwritten, scale)
    obs = News2Observation(
        resp_rate=_req(numbers["resp_rate"]), spo2=_req(numbers["spo2"]),
        oxygen=codes["oxygen"] or "", sbp=_req(numbers["sbp"]), pulse=_req(numbers["pulse"]),
        acvpu=codes["acvpu"] or "", temp=_req(numbers["temp"]), spo2_scale=scale,
    )
    return ColumnScore(score(obs), (), handwritten, scale)


def _req(value: float | None) -> float:
    assert value is not None
    return value


def check_column(
    store: EntriesStore,
    instance_id: str,
    section_id: str,
    index: int,
    values: Mapping[str, Entry],
    *,
    default_scale: int = 1,
    clerk: str = "",
) -> ColumnScore:
    """Score a column and open (or close) its NEWS2 discrepancy accordingly.

    The discrepancy closes by itself only when the keyed values now agree (a keying slip
    corrected); a real difference on the paper stays open until someone acknowledges it.
    """
    result = column_score(values, default_scale=default_scale)
    address = FieldAddress(instance_id, section_id, index, TOTAL_FIELD)
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
