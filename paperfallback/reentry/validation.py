"""Turn what a clerk typed (or a workbook cell held) into a checked, canonical value.

One set of rules for the keying screen and the workbook importer, taken from the form
definition: types, units and ranges, choices by printed code or first letter, sane dates,
NHS number check digits (NHS Data Dictionary, Modulus 11), and the time rules of a chart
(in order, not in the future, not more than ``Settings.entry_window_hours`` before the
form was printed). Every refusal is an :class:`InputError` whose message a clerk can act on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from paperfallback.cache.staleness import UK, utc_now
from paperfallback.domain import nhs_number
from paperfallback.domain.errors import InputError, InvalidNhsNumber
from paperfallback.formspec import FieldSpec
from paperfallback.formspec.vocabulary import NOT_TICKED_VALUE, TICKED_VALUE
from paperfallback.reentry.model import EntryState

EARLIEST_DATE = date(1900, 1, 1)
# What clerks type (or a workbook holds) for a field that cannot be read or was left blank.
ILLEGIBLE_TOKENS = frozenset({"?", "??", "illegible", "[illegible]"})
NOT_RECORDED_TOKENS = frozenset({"-", "--", "nr", "n/r", "not recorded", "[not recorded]"})
TICKED = frozenset({"y", "yes", "x", "1", "true", "t", "✓", "✔", "ticked"})
NOT_TICKED = frozenset({"n", "no", "0", "false", "f", "not ticked"})


@dataclass(frozen=True, slots=True)
class KeyingContext:
    """The facts the time rules need: when the form was printed, and now."""

    printed_at: datetime | None = None
    now: datetime | None = None
    window_hours: int = 24

    def current(self) -> datetime:
        return self.now or utc_now()

    @property
    def earliest(self) -> datetime | None:
        if self.printed_at is None:
            return None
        return self.printed_at - timedelta(hours=self.window_hours)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A checked value: ``canonical`` is stored, ``shown`` is echoed next to the field."""

    canonical: str
    shown: str
    number: float | None = None
    moment: datetime | None = None


def entry_state_of(text: str) -> EntryState | None:
    """ILLEGIBLE / NOT_RECORDED when the text is one of their tokens, else None."""
    folded = text.strip().casefold()
    if folded in ILLEGIBLE_TOKENS:
        return EntryState.ILLEGIBLE
    if folded in NOT_RECORDED_TOKENS:
        return EntryState.NOT_RECORDED
    return None


def parse_value(
    spec: FieldSpec,
    raw: object,
    ctx: KeyingContext,
    *,
    day_hint: datetime | None = None,
) -> Parsed:
    """Check one value against its field definition; raise InputError saying why not.

    ``raw`` is typed text or a workbook cell value (number, date, datetime, bool).
    ``day_hint``: for a time typed without a date, the time point it follows (the
    previous chart column) or None to use the printed date.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InputError(f"{spec.label}: nothing typed")
    if spec.role == "patient.nhs_number":
        return _nhs(raw)
    kind = spec.type
    if kind == "number":
        return _number(spec, raw)
    if kind == "choice":
        return _choice(spec, raw)
    if kind == "date":
        return _date(spec, raw, ctx)
    if kind == "time":
        return _time_of_day(raw)
    if kind == "datetime":
        return _datetime(spec, raw, ctx, day_hint)
    if kind == "tickbox":
        return _tick(raw)
    text = _text(raw)
    if kind == "initials" and len(text) > 8:
        raise InputError(f"{spec.label}: initials are at most 8 letters, not {text!r}")
    return Parsed(text, text)


def _text(raw: object) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime | date | time):
        return raw.isoformat()
    return " ".join(str(raw).split()) if "\n" not in str(raw) else str(raw).strip()


def _nhs(raw: object) -> Parsed:
    text = _text(raw)
    try:
        digits = nhs_number.normalise(text)
    except InvalidNhsNumber as exc:
        raise InputError(str(exc)) from exc
    return Parsed(digits, nhs_number.format_nhs_number(digits))


def _number(spec: FieldSpec, raw: object) -> Parsed:
    if isinstance(raw, bool):
        raise InputError(f"{spec.label}: {raw!r} is not a number")
    if isinstance(raw, int | float):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise InputError(f"{spec.label}: {raw!r} is not a number")
        value = Decimal(str(raw))
        typed = str(raw)
    else:
        typed = str(raw).strip()
        text = typed
        if spec.unit and text.casefold().endswith(spec.unit.casefold()):
            text = text[: -len(spec.unit)].strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise InputError(f"{spec.label}: {typed!r} is not a number") from None
        if not value.is_finite():
            raise InputError(f"{spec.label}: {typed!r} is not a number")
    if value != value.quantize(Decimal(1).scaleb(-spec.decimals)):
        places = "a whole number" if not spec.decimals else f"at most {spec.decimals} decimals"
        raise InputError(f"{spec.label}: {typed!r} must be {places}")
    number = float(value)
    unit = f" {spec.unit}" if spec.unit else ""
    if (spec.min is not None and number < spec.min) or (spec.max is not None and number > spec.max):
        raise InputError(
            f"{spec.label}: {typed}{unit} is outside {_fmt(spec.min)}–{_fmt(spec.max)}{unit}; "
            "check the paper, or mark it illegible"
        )
    canonical = format(value.normalize(), "f") if value != 0 else "0"
    return Parsed(canonical, canonical + unit, number=number)


def _fmt(bound: float | None) -> str:
    if bound is None:
        return "…"
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _choice(spec: FieldSpec, raw: object) -> Parsed:
    typed = _text(raw)
    folded = typed.casefold()
    for attribute in ("code", "label"):
        exact = [c for c in spec.choices if getattr(c, attribute).casefold() == folded]
        if exact:
            choice = exact[0]
            return Parsed(choice.code, f"{choice.code} – {choice.label}")
    for attribute in ("code", "label"):
        prefixed = [
            c for c in spec.choices if str(getattr(c, attribute)).casefold().startswith(folded)
        ]
        if len(prefixed) == 1:
            choice = prefixed[0]
            return Parsed(choice.code, f"{choice.code} – {choice.label}")
    codes = ", ".join(f"{c.code} ({c.label})" for c in spec.choices)
    raise InputError(f"{spec.label}: {typed!r} is not one of {codes}")


def _tick(raw: object) -> Parsed:
    if isinstance(raw, bool):
        ticked = raw
    else:
        folded = _text(raw).casefold()
        if folded in TICKED:
            ticked = True
        elif folded in NOT_TICKED:
            ticked = False
        else:
            raise InputError(f"{raw!r} is not a tick: type Y (ticked) or N (not ticked)")
    return Parsed(TICKED_VALUE if ticked else NOT_TICKED_VALUE,
                  "ticked" if ticked else "not ticked")


# ---- dates and times ---------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DATE_UK = re.compile(r"^(\d{1,2})[/.\-](\d{1,2}|[A-Za-z]{3})(?:[/.\-](\d{2}|\d{4}))?$")
_TIME = re.compile(r"^(\d{1,2})[:.h]?(\d{2})(?::(\d{2}))?$")


def parse_date_text(text: str, *, default_year: int | None = None) -> date:
    """'24/01/2018', '24-Jan-2018', '24/01/18', '2018-01-24' (ISO), '24/01' -> date."""
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    match = _DATE_UK.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a date (type dd/mm/yyyy)")
    day, month_text, year_text = match.groups()
    month = _MONTHS.get(month_text.casefold()) if month_text.isalpha() else int(month_text)
    if month is None:
        raise ValueError(f"{text!r}: {month_text!r} is not a month")
    if year_text is None:
        if default_year is None:
            raise ValueError(f"{text!r} has no year")
        year = default_year
    elif len(year_text) == 2:
        year = 2000 + int(year_text)
    else:
        year = int(year_text)
    try:
        return date(year, month, int(day))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real date ({exc})") from None


def parse_time_text(text: str) -> time:
    """'14:05', '1405', '14.05', '9:30', '14:05:00' -> time (24 h)."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time (type hh:mm, 24 h)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00–23:59)")
    return time(hour, minute)


def _time_of_day(raw: object) -> Parsed:
    if isinstance(raw, datetime):
        moment = raw.time()
    elif isinstance(raw, time):
        moment = raw
    elif isinstance(raw, float | int) and not isinstance(raw, bool) and 0 <= raw < 1:
        minutes = round(float(raw) * 24 * 60)  # a spreadsheet time as a fraction of a day
        moment = time(minutes // 60 % 24, minutes % 60)
    else:
        try:
            moment = parse_time_text(_text(raw))
        except ValueError as exc:
            raise InputError(str(exc)) from None
    text = moment.strftime("%H:%M")
    return Parsed(text, text)


def _date(spec: FieldSpec, raw: object, ctx: KeyingContext) -> Parsed:
    today = ctx.current().astimezone(UK).date()
    if isinstance(raw, datetime):
        day = raw.date()
    elif isinstance(raw, date):
        day = raw
    else:
        try:
            day = parse_date_text(_text(raw))
        except ValueError as exc:
            raise InputError(f"{spec.label}: {exc}") from None
    if day < EARLIEST_DATE:
        raise InputError(f"{spec.label}: {day:%d-%b-%Y} is before 1900")
    is_birth = "birth" in spec.id or spec.prefill == "patient.birth_date"
    if is_birth and day > today:
        raise InputError(f"{spec.label}: {day:%d-%b-%Y} is in the future")
    if day > today + timedelta(days=366):
        raise InputError(f"{spec.label}: {day:%d-%b-%Y} is more than a year ahead")
    return Parsed(day.isoformat(), day.strftime("%d-%b-%Y"))


def _datetime(
    spec: FieldSpec, raw: object, ctx: KeyingContext, day_hint: datetime | None
) -> Parsed:
    moment = parse_moment(raw, ctx, day_hint=day_hint, label=spec.label)
    local = moment.astimezone(UK)
    return Parsed(local.isoformat(), local.strftime("%a %d-%b-%Y %H:%M"), moment=moment)


def parse_moment(
    raw: object, ctx: KeyingContext, *, day_hint: datetime | None = None, label: str = "Time"
) -> datetime:
    """A date-time from a cell or typed text; a bare time takes its date from context.

    Accepts spreadsheet date-time cells, UK text ('24/01/2018 14:05', '24/01 1405'),
    ISO 8601 ('2018-01-24T14:05' or with a space) and a time alone ('1405').
    Naive times are UK local time.
    """
    if isinstance(raw, datetime):
        return _aware(raw)
    if isinstance(raw, date):
        raise InputError(f"{label}: {raw:%d-%b-%Y} has no time of day")
    text = _text(raw).strip()
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        pass
    parts = text.replace(",", " ").split()
    try:
        if len(parts) == 2:
            reference = (day_hint or ctx.printed_at or ctx.current()).astimezone(UK)
            day = parse_date_text(parts[0], default_year=reference.year)
            return _aware(datetime.combine(day, parse_time_text(parts[1])))
        if len(parts) == 1:
            return _infer_day(parse_time_text(parts[0]), ctx, day_hint)
    except ValueError as exc:
        raise InputError(f"{label}: {exc}") from None
    raise InputError(f"{label}: {text!r} is not a date and time (type dd/mm/yyyy hh:mm)")


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UK) if moment.tzinfo is None else moment


def _infer_day(clock: time, ctx: KeyingContext, day_hint: datetime | None) -> datetime:
    """The first moment at ``clock`` at or after the previous time point (or the print
    time), unless that is in the future: then the latest one before it."""
    reference = day_hint or ctx.printed_at or ctx.current()
    local_ref = reference.astimezone(UK)
    now = ctx.current()
    candidates = [
        _aware(datetime.combine(local_ref.date() + timedelta(days=d), clock))
        for d in (-1, 0, 1, 2)
    ]
    after = [c for c in candidates if c >= reference and c <= now]
    if after:
        return after[0]
    before = [c for c in candidates if c < reference]
    return before[-1]


def check_time_point(
    moment: datetime,
    ctx: KeyingContext,
    *,
    previous: datetime | None = None,
    following: datetime | None = None,
    label: str = "Time",
) -> None:
    """The chart time rules: not in the future, not too long before printing, in order."""
    now = ctx.current()
    if moment > now + timedelta(minutes=1):
        raise InputError(f"{label}: {_uk(moment)} is in the future")
    earliest = ctx.earliest
    if earliest is not None and moment < earliest:
        raise InputError(
            f"{label}: {_uk(moment)} is more than {ctx.window_hours} h before the form was "
            f"printed ({_uk(ctx.printed_at)}); check the date"
        )
    if previous is not None and moment <= previous:
        raise InputError(
            f"{label}: {_uk(moment)} is not after the previous column ({_uk(previous)})"
        )
    if following is not None and moment >= following:
        raise InputError(
            f"{label}: {_uk(moment)} is not before the next column ({_uk(following)})"
        )


def _uk(moment: datetime | None) -> str:
    return moment.astimezone(UK).strftime("%d-%b-%Y %H:%M") if moment else "?"
