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
UNKNOWN_AS_OF_MESSAGE = "data-as-of time not known: the extract carried no time of its own"

UNKNOWN_SOURCE = "unknown"
_PUBLIC_SOURCES = {
    "option": "--as-of option",
    "bundle.timestamp": "bundle-meta",
    "manifest.transactionTime": "manifest-transactionTime",
    "log.ndjson transactionTime": "client-log",
    "meta.lastUpdated": "resource-lastUpdated",
    "drop marker time": "drop-marker",
}
"""Where a data-as-of time came from, as ``cache status --json`` names it (``as_of_source``),
keyed by the value the importers record (``Snapshot.as_of_source``, kept in the cache).
The import time is not the data's time: it is "unknown" (hazard BULK-2)."""


def public_as_of_source(recorded: str) -> str:
    """The public name of a recorded as-of source; anything unrecognised is "unknown"."""
    return _PUBLIC_SOURCES.get(recorded, UNKNOWN_SOURCE)


def as_of_is_known(recorded: str) -> bool:
    """Did the time come from the extract, the drop or the user, rather than the import?"""
    return recorded in _PUBLIC_SOURCES


@dataclass(frozen=True, slots=True)
class Freshness:
    data_as_of: datetime
    now: datetime
    stale_minutes: int
    known: bool = True  # False: data_as_of is only the import time (see as_of_is_known)

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
        # so nobody can say how old the data really is. Nor is data whose time is not known
        # at all: a two-year-old extract imported a minute ago is not a minute old.
        return (not self.known or self.is_future
                or self.age > timedelta(minutes=self.stale_minutes))

    @property
    def age_text(self) -> str:
        if not self.known:
            return f"of unknown age ({UNKNOWN_AS_OF_MESSAGE})"
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
