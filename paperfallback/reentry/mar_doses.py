"""The MAR's rules for one regular-medicine cell, in one place for keying and export.

A day cell of a scheduled medicine (the field declaring the role ``administration`` in
forms/*.yaml, repeated per day column) holds the initials of who gave the dose, or an omission
code from the chart's legend (1-8, "Omission codes" on forms/mar.yaml); anything else is
refused when it is keyed, not first found at export (issue #13 item 11). The moment of
the dose is the date of its day column (keyed, else printed) at the row's dose time
(keyed, else printed); a dose dated after the keying (so after the outage ended) is
refused too. The CSV/xlsx and FHIR exports read doses through the same functions, so
every format holds the same doses with the same drug, dose time and omission label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from paperfallback.cache.staleness import UK
from paperfallback.domain.errors import InputError
from paperfallback.domain.terminology import OMISSION_REASONS as _OMISSION_REASONS

# MAR omission codes: the one table (printed in the legend of forms/mar.yaml).
OMISSION_REASONS = _OMISSION_REASONS
_INITIALS = re.compile(r"[A-Za-z][A-Za-z.'\- ]{0,7}")
_DOSE_TIME = re.compile(r"\d{1,2}:\d{2}")


@dataclass(frozen=True, slots=True)
class MarMark:
    """What one day cell says: given (with initials) or omitted (with code and label)."""

    given: bool
    initials: str = ""
    code: str = ""
    label: str = ""

    @property
    def status(self) -> str:
        """The MedicationAdministration status: completed or not-done."""
        return "completed" if self.given else "not-done"

    @property
    def reason(self) -> str:
        return f"Omission code {self.code}: {self.label}" if self.code else ""


def day_number(cell_id: str) -> int | None:
    """The day column of a keyed day cell (the repeat number: keyed cells are named by
    :func:`paperfallback.formspec.models.repeat_cell_id`), else None."""
    head, _, tail = cell_id.rpartition("_")
    return int(tail) if head and tail.isdigit() else None


def read_mark(text: str) -> MarMark:
    """Initials, or an omission code on the legend; InputError saying which codes exist."""
    value = text.strip()
    if value in OMISSION_REASONS:
        return MarMark(False, code=value, label=OMISSION_REASONS[value])
    if value.isdigit():
        codes = sorted(OMISSION_REASONS, key=int)
        raise InputError(f"{value!r} is not an omission code on the chart's legend "
                         f"({codes[0]}–{codes[-1]}): check the paper")
    if _INITIALS.fullmatch(value):
        return MarMark(True, initials=value)
    raise InputError(f"{value!r} is neither initials nor an omission code "
                     f"{min(OMISSION_REASONS, key=int)}-{max(OMISSION_REASONS, key=int)}")


def dose_moment(day_date: date, dose_time: str) -> datetime | None:
    """The dose's moment (UK time), or None when the dose time is not hh:mm."""
    if not _DOSE_TIME.fullmatch(dose_time.strip()):
        return None
    hours, minutes = (int(p) for p in dose_time.strip().split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        return None
    return datetime.combine(day_date, time(hours, minutes), tzinfo=UK)


def check_not_after(moment: datetime, limit: datetime, *, day: int, dose_time: str) -> None:
    """Refuse a dose dated after ``limit`` (the keying: after the outage ended)."""
    if moment > limit:
        raise InputError(
            f"day {day} at {dose_time} is {moment.astimezone(UK):%d-%b-%Y %H:%M}, after it "
            "was keyed: check the date of the day column and the dose time")
