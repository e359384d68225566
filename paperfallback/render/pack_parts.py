"""A pack handed over in parts, each a complete PDF, as soon as each is drawn (issue #15).

A printer cannot start on a PDF before its end is written (the cross-reference table is
at the end), so a 145-page ward pack used to reach the printer only when the last page was
drawn. Drawn as parts, the first (the cover sheet and the ward's own forms, such as the
handover list) is ready after a few pages; the printer works on it while the next parts
are drawn. A part always holds whole patients: a patient's forms are never split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
Progress = Callable[[int, int], None]


PART_PAGES = 24  # a later part closes at the first patient boundary after this many pages


def part_groups(patients: Sequence[str | None], pages: Sequence[int] | None = None,
                min_pages: int = 1) -> list[list[int]]:
    """Positions of the pack's instances (each with its patient; None for the cover and
    the ward forms) in parts. The first part is what comes before the first patient (the
    cover sheet and the ward's own forms: what the printer starts on), else the first
    patient's forms; each later part closes at a patient boundary once it has
    ``min_pages`` pages (each part costs its own font subsets, so a part per patient
    would make the whole pack slower)."""
    groups: list[list[int]] = []
    current: list[int] = []
    current_pages = 0
    seen: str | None = None
    for position, patient in enumerate(patients):
        boundary = patient is not None and patient != seen and bool(current)
        if boundary and (not groups or current_pages >= min_pages):
            groups.append(current)
            current, current_pages = [], 0
        seen = patient if patient is not None else seen
        current.append(position)
        current_pages += pages[position] if pages is not None else 1
    if current:
        groups.append(current)
    return groups


def draw_in_parts(items: Sequence[T], patient_of: Callable[[T], str | None],
                  pages_of: Callable[[T], int], parts: Callable[[bytes, int], None],
                  draw: Callable[[list[T], Callable[[Progress | None], Progress | None]],
                                 bytes]) -> int:
    """Draw each part (``draw(items, step)``, where ``step(progress)`` offsets a progress
    callback by the pages already drawn) and hand it to ``parts(pdf, pages)``; returns
    the bytes handed over."""
    size = done = 0
    counts = [pages_of(item) for item in items]
    for group in part_groups([patient_of(item) for item in items], counts, PART_PAGES):
        chosen = [items[position] for position in group]

        def step(progress: Progress | None, before: int = done) -> Progress | None:
            if progress is None:
                return None
            return lambda page, total: progress(before + page, total)

        data = draw(chosen, step)
        pages = sum(counts[position] for position in group)
        parts(data, pages)
        size += len(data)
        done += pages
    return size
