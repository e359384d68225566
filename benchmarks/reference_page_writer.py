#!/usr/bin/env python3
"""A hand-tuned ReportLab page writer: the floor that ``paperfallback print`` is measured against.

    .venv/bin/python benchmarks/reference_page_writer.py --pages 145 --out ref.pdf

It writes pages shaped like a ward pack's chart pages with every trick a hand-written writer
would use and nothing PaperFallback must do besides (no cache, no register, no form
definitions): the chart grid drawn once as a Form XObject and placed on each page, the QR
as one path of run rectangles (mask fixed), a banner and footer of a few strings in an
embedded TTF, and as many strings per page as the real pack averages (~80).
Run as its own process so the comparison includes interpreter start-up and imports,
as the ``print`` command's does (issue #15: paired ratio).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

ROOT = Path(__file__).resolve().parent.parent
FONT = ROOT / "resources" / "fonts" / "DejaVuSans.ttf"
MM = 72 / 25.4
ROWS, COLUMNS = 44, 14


def _grid(c: Canvas, width: float, height: float) -> None:
    c.beginForm("grid")
    c.setLineWidth(0.4)
    left, top = 15 * MM, height - 40 * MM
    row_h, col_w = 4.6 * MM, (width - 30 * MM) / COLUMNS
    for r in range(ROWS + 1):
        c.line(left, top - r * row_h, width - 15 * MM, top - r * row_h)
    for k in range(COLUMNS + 1):
        c.line(left + k * col_w, top, left + k * col_w, top - ROWS * row_h)
    c.setFont("Ref", 6)
    for r in range(ROWS):
        c.drawString(left + 1, top - (r + 1) * row_h + 1.5, f"band {r}")
    c.endForm()


def _qr(c: Canvas, payload: str, x: float, y: float, size: float) -> None:
    import segno

    matrix = list(segno.make(payload, error="m", micro=False, mask=1).matrix)
    unit = size / len(matrix)
    path = c.beginPath()
    for row, values in enumerate(matrix):
        col = 0
        while col < len(values):
            if values[col]:
                start = col
                while col < len(values) and values[col]:
                    col += 1
                path.rect(x + start * unit, y + size - (row + 1) * unit,
                          (col - start) * unit, unit)
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)


def write(pages: int, out: Path) -> None:
    pdfmetrics.registerFont(TTFont("Ref", str(FONT)))
    width, height = A4
    c = Canvas(str(out), pagesize=A4, pageCompression=1)
    _grid(c, width, height)
    for page in range(1, pages + 1):
        c.setFont("Ref", 11)
        name = f"PATIENT-{page:03d}, Ffion  NHS 999 000 {page:04d}"
        c.drawString(15 * MM, height - 15 * MM, name)
        c.setFont("Ref", 8)
        c.drawString(15 * MM, height - 21 * MM, "DOB 01-Jan-1950  Hosp. no. RW3-000000  W3 bed 1")
        c.drawRightString(width - 15 * MM, height - 15 * MM, "NEWS2 observation chart")
        c.doForm("grid")
        # The variable text of a real page (about 80 strings: banner, values, legend).
        col_w = (width - 30 * MM) / COLUMNS
        for row in range(5):
            for col in range(COLUMNS):
                c.drawString(15 * MM + col * col_w + 2, height - (50 + row * 9) * MM,
                             str(12 + (row * 7 + col * 3 + page) % 90))
        c.drawString(15 * MM, 10 * MM, f"Page {page} of {pages}   Data as of 30-Nov-2026 09:00")
        _qr(c, f"Q76-{page:05d}-M/{page}", width - 30 * MM, 5 * MM, 15 * MM)
        c.showPage()
    c.save()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    write(args.pages, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
