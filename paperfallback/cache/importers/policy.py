"""What an import keeps: only what is current, and observations of the recent past."""

from __future__ import annotations

from dataclasses import dataclass

OBSERVATION_WINDOW_HOURS = 72.0  # issue 3: "recent observations ... last 72 h"


@dataclass(frozen=True, slots=True)
class ImportPolicy:
    """``current_only`` keeps in-progress stays, active prescriptions, allergies and flags,
    and booked appointments, so a stopped drug never reaches a printed MAR. Tests that check
    field mapping on archived examples (the UK Core set) switch both off."""

    observation_hours: float | None = OBSERVATION_WINDOW_HOURS
    current_only: bool = True


DEFAULT_POLICY = ImportPolicy()
EVERYTHING = ImportPolicy(observation_hours=None, current_only=False)
