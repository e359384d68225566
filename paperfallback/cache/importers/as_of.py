"""When the data in an extract was true ("data as of"), and how FHIR times are read.

Precedence (issue 3): the ``--as-of`` option, else the Bundle ``timestamp``, else the Bulk
Data manifest ``transactionTime``, else the bulk-data-client log's ``transactionTime``,
else the latest ``meta.lastUpdated``, else the import
time (flagged to users). Several Bundles: the earliest timestamp wins, because a snapshot
is only as fresh as its oldest part.

Every time is timezone-aware: a FHIR time without an offset, or a date alone, is read as
UK local time (Europe/London), which is what ward staff mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from paperfallback.cache.staleness import CLOCK_SKEW_TOLERANCE, UK, format_uk, utc_now
from paperfallback.domain.errors import InputError

AS_OF_OPTION = "option"
AS_OF_BUNDLE = "bundle.timestamp"
AS_OF_MANIFEST = "manifest.transactionTime"
AS_OF_CLIENT_LOG = "log.ndjson transactionTime"
AS_OF_LAST_UPDATED = "meta.lastUpdated"
AS_OF_IMPORT_TIME = "import time"

_YEAR_MONTH = re.compile(r"^\d{4}(-\d{2})?$")


def parse_datetime(text: object, *, field_name: str, where: object) -> datetime:
    """A FHIR dateTime/instant (or date) as an aware datetime; InputError naming the field."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{field_name}: expected a date-time, got {text!r}", where=str(where))
    raw = text.strip()
    try:
        if len(raw) == 10:
            moment = datetime.combine(date.fromisoformat(raw), time(0, 0))
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        if _YEAR_MONTH.match(raw):  # FHIR allows "2019" and "2019-12": take the first day
            year, _, month = raw.partition("-")
            moment = datetime(int(year), int(month or 1), 1)
        else:
            raise InputError(
                f"{field_name}: {text!r} is not an ISO 8601 date-time", where=str(where)
            ) from None
    return aware(moment)


def parse_date(text: object, *, field_name: str, where: object) -> date | None:
    """A FHIR date (YYYY-MM-DD); partial dates (YYYY, YYYY-MM) give None (not guessed)."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise InputError(f"{field_name}: expected a date, got {text!r}", where=str(where))
    raw = text.strip()
    if _YEAR_MONTH.match(raw):
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise InputError(
            f"{field_name}: {text!r} is not a date (YYYY-MM-DD)", where=str(where)
        ) from None


def aware(moment: datetime) -> datetime:
    """Naive times are UK local time."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UK)


@dataclass
class AsOfEvidence:
    """What an extract says about its own time, gathered while reading it."""

    bundle_timestamps: list[datetime] = field(default_factory=list)
    manifest_time: datetime | None = None
    client_log_time: datetime | None = None
    last_updated: datetime | None = None

    def saw_last_updated(self, moment: datetime) -> None:
        if self.last_updated is None or moment > self.last_updated:
            self.last_updated = moment

    def decide(
        self, option: datetime | None, now: datetime | None = None
    ) -> tuple[datetime, str]:
        """(data_as_of, source) by the precedence in the module docstring."""
        if option is not None:
            return aware(option), AS_OF_OPTION
        if self.bundle_timestamps:
            return min(self.bundle_timestamps), AS_OF_BUNDLE
        if self.manifest_time is not None:
            return self.manifest_time, AS_OF_MANIFEST
        if self.client_log_time is not None:
            return self.client_log_time, AS_OF_CLIENT_LOG
        if self.last_updated is not None:
            return self.last_updated, AS_OF_LAST_UPDATED
        return aware(now) if now is not None else utc_now(), AS_OF_IMPORT_TIME


_SOURCE_NAMES = {
    AS_OF_OPTION: "the data-as-of time given for the import",
    AS_OF_BUNDLE: "the Bundle timestamp (bundle.timestamp)",
    AS_OF_MANIFEST: "the Bulk Data manifest transactionTime",
    AS_OF_CLIENT_LOG: "the bulk-data-client log.ndjson transactionTime",
    AS_OF_LAST_UPDATED: "the latest meta.lastUpdated",
}


def check_not_future(data_as_of: datetime, source: str, now: datetime | None = None) -> None:
    """Refuse a data-as-of later than now (beyond clock skew): it would make any data,
    however old, look fresh on every printed page and in monitoring."""
    now = aware(now) if now is not None else utc_now()
    if data_as_of - now > CLOCK_SKEW_TOLERANCE:
        name = _SOURCE_NAMES.get(source, source)
        raise InputError(
            f"the extract's data-as-of time {format_uk(data_as_of)} (from {name}) is in the "
            f"future (this PC's clock says {format_uk(now)}); nothing was imported. Check the "
            "time given, the EPR's clock and this PC's clock"
        )


def window_start(as_of: datetime, hours: float | None) -> datetime | None:
    """The oldest observation time kept (None keeps all)."""
    return None if hours is None else as_of - timedelta(hours=hours)
