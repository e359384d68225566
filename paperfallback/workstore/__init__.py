"""The work store ``work.db``: register, keyed entries and export state, one schema."""

from paperfallback.workstore.migrations import SCHEMA_VERSION
from paperfallback.workstore.store import (
    WORK_FILE,
    NewerWorkStore,
    WorkStore,
    scratch_work_store,
)

__all__ = ["SCHEMA_VERSION", "WORK_FILE", "NewerWorkStore", "WorkStore", "scratch_work_store"]
