"""Pieces every section renderer shares: the section title strip."""

from __future__ import annotations

from paperfallback.formspec.models import SectionBase
from paperfallback.render.draw import ALERT_RED, MM, Canvas, draw_text, text_in_box
from paperfallback.render.fonts import BOLD

TITLE_H = 4.6 * MM
NOTE_H = 3.4 * MM


def title_height(section: SectionBase, extra_note: str = "") -> float:
    return (TITLE_H if section.title else 0.0) + (NOTE_H if section.note or extra_note else 0.0)


def draw_title(c: Canvas, section: SectionBase, x: float, top: float, width: float,
               extra_note: str = "", alert: bool = False) -> float:
    """Draw the title (and note); return the height used."""
    used = 0.0
    if section.title:
        if alert:
            c.setFillColorRGB(*ALERT_RED)
        c.setFont(BOLD, 8.5)
        draw_text(c, "left", x, top - 3.3 * MM, section.title)
        c.setFillGray(0)
        used += TITLE_H
    note = " ".join(n for n in (section.note, extra_note) if n)
    if note:
        text_in_box(c, note, x - 1.2, top - used + 0.6, width, NOTE_H + 1, size=6.2,
                    min_size=4.5, pad=1.2)
        used += NOTE_H
    return used
