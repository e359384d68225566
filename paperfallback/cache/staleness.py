"""How old the cache is and whether that is too old to trust without a warning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")


CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)
"""How far in the future a data-as-of time may be before it is not believed: PCs and
EPR servers disagree by seconds to a few minutes; more than this is a wrong clock or a
wrong --as-of, and a future time would make old data look fresh."""

FUTURE_AS_OF_MESSAGE = "data-as-of time is in the future: check the PC clock"


@dataclass(frozen=True, slots=True)
class Freshness:
    data_as_of: datetime
    now: datetime
    stale_minutes: int

    @property
    def age(self) -> timedelta:
        return self.now - self.data_as_of

    @property
    def is_future(self) -> bool:
        """The data claims to be from later than now (beyond clock skew): its age is unknown."""
        return self.age < -CLOCK_SKEW_TOLERANCE

    @property
    def is_stale(self) -> bool:
        # A future data-as-of is never fresh: the PC clock or the extract's time is wrong,
        # so nobody can say how old the data really is.
        return self.is_future or self.age > timedelta(minutes=self.stale_minutes)

    @property
    def age_text(self) -> str:
        if self.is_future:
            return f"of unknown age ({FUTURE_AS_OF_MESSAGE})"
        return describe_age(self.age)


def describe_age(age: timedelta) -> str:
    """Plain English age: '12 minutes', '3 hours 5 minutes', '2 days 4 hours'."""
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        text = f"{hours} hour{'s' if hours != 1 else ''}"
        return text + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


def uk_time(moment: datetime) -> datetime:
    """The moment in UK local time (GMT/BST), as every page prints it."""
    return moment.astimezone(UK)


def format_uk(moment: datetime) -> str:
    """dd-Mmm-yyyy hh:mm in UK local time, e.g. '24-Jan-2018 14:05'."""
    return uk_time(moment).strftime("%d-%b-%Y %H:%M")


def utc_now() -> datetime:
    return datetime.now(UTC)
