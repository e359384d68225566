"""What ``cache status`` and every page know about the cache: its time, age, counts, and
the fault that stops it being read (issue #12), in the JSON monitoring parses.

The JSON keys are a contract with site monitoring (docs/install.md): add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paperfallback.cache.staleness import Freshness, as_of_is_known, public_as_of_source


@dataclass(frozen=True, slots=True)
class CacheStatus:
    """What monitoring and every page need to know about the snapshot."""

    has_snapshot: bool
    data_as_of: datetime | None
    as_of_source: str
    imported_at: datetime | None
    counts: dict[str, int]
    freshness: Freshness | None
    last_refresh_ok_at: datetime | None
    last_refresh_attempt_at: datetime | None
    last_refresh_failed: bool
    last_refresh_message: str
    damage: str = ""  # why the cache file cannot be read ("" when it can)
    fault: str = ""  # wrong-key, damaged, locked, disk-full, read-only, permission-denied
    fault_message: str = ""  # the fault in words for IT ("" when there is none)

    @property
    def is_stale(self) -> bool:
        return self.freshness is None or self.freshness.is_stale

    @property
    def data_as_of_known(self) -> bool:
        """False when the extract carried no time of its own (``data_as_of`` is then only
        the import time): such data is always stale (hazard BULK-2)."""
        return self.data_as_of is not None and as_of_is_known(self.as_of_source)

    @property
    def is_damaged(self) -> bool:
        return bool(self.damage)

    def to_json(self) -> dict[str, Any]:
        return {
            "has_snapshot": self.has_snapshot,
            "damaged": self.is_damaged,
            "damage": self.damage or None,
            "data_as_of": (
                self.data_as_of.isoformat() if self.data_as_of and self.data_as_of_known else None
            ),
            "data_as_of_known": self.data_as_of_known if self.has_snapshot else None,
            "as_of_source": public_as_of_source(self.as_of_source) if self.has_snapshot else None,
            "data_as_of_source": self.as_of_source or None,
            "imported_at": self.imported_at.isoformat() if self.imported_at else None,
            "age_minutes": (
                round(self.freshness.age.total_seconds() / 60, 1)
                if self.freshness and self.data_as_of_known else None
            ),
            "stale": self.is_stale,
            "stale_threshold_minutes": self.freshness.stale_minutes if self.freshness else None,
            "counts": self.counts,
            "last_successful_refresh": (
                self.last_refresh_ok_at.isoformat() if self.last_refresh_ok_at else None
            ),
            "last_refresh_attempt": (
                self.last_refresh_attempt_at.isoformat() if self.last_refresh_attempt_at else None
            ),
            "last_refresh_failed": self.last_refresh_failed,
            "last_refresh_message": self.last_refresh_message or None,
            "fault": self.fault or ("damaged" if self.damage else None),
            "fault_message": self.fault_message or self.damage or None,
        }
