#!/usr/bin/env python3
"""A hand-tuned ReportLab page writer: the floor ``paperfallback print`` is measured against.

    python benchmarks/reference_page_writer.py --pages 145 --out ref.pdf

It writes pages of the same kind as a ward pack (A4, the embedded DejaVu fonts, a patient
banner, a chart grid with coloured score bands, about a hundred value cells, a QR code of a
form-instance ID and a footer) with nothing else: no cache, no key, no register, no form
definitions. The constant artwork (the grid) is drawn once as a Form XObject and reused on
every page; the QR code is one path of runs. It imports only reportlab and segno, so a run
of it as its own process is the least a whole print command could cost
(benchmarks/bench_print_ratio.py runs it side by side with the real command).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONTS = Path(__file__).resolve().parent.parent / "resources" / "fonts"
ROWS = 40  # chart rows on a page (respiration, SpO2, BP, pulse, ... bands)
COLUMNS = 12  # observation columns on a page
BANDS = ((1.0, 0.85, 0.85), (1.0, 0.95, 0.75), (1.0, 1.0, 1.0))


def _grid(c: Canvas, x0: float, y0: float, width: float, height: float) -> None:
    """The chart's constant artwork, drawn once as a Form XObject."""
    c.beginForm("grid")
    row_h = height / ROWS
    for row in range(ROWS):
        c.setFillColorRGB(*BANDS[row % len(BANDS)])
        c.rect(x0, y0 + row * row_h, width, row_h, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    c.setLineWidth(0.3)
    col_w = width / (COLUMNS + 2)
    for i in range(ROWS + 1):
        c.line(x0, y0 + i * row_h, x0 + width, y0 + i * row_h)
    for j in range(COLUMNS + 3):
        c.line(x0 + j * col_w, y0, x0 + j * col_w, y0 + height)
    c.setFont("Ref", 6)
    for row in range(ROWS):
        c.drawString(x0 + 2, y0 + row * row_h + 2, f"band {row}")
    c.endForm()


def _qr(c: Canvas, payload: str, x: float, y: float, size: float) -> None:
    """The form-instance QR code as one path of horizontal runs."""
    import segno

    matrix = [list(r) for r in segno.make(payload, error="m", micro=False, mask=1).matrix]
    unit = size / len(matrix)
    path = c.beginPath()
    top = y + size
    for row, values in enumerate(matrix):
        col = 0
        while col < len(values):
            if values[col]:
                start = col
                while col < len(values) and values[col]:
                    col += 1
                path.rect(x + start * unit, top - (row + 1) * unit, (col - start) * unit, unit)
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)


def write(out: Path, pages: int) -> None:
    pdfmetrics.registerFont(TTFont("Ref", str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("Ref-Bold", str(FONTS / "DejaVuSans-Bold.ttf")))
    width, height = A4
    c = Canvas(str(out), pagesize=A4, invariant=1)
    margin = 28.0
    grid_top = height - 150
    grid_h = grid_top - 80
    grid_w = width - 2 * margin
    _grid(c, margin, 80, grid_w, grid_h)
    row_h = grid_h / ROWS
    col_w = grid_w / (COLUMNS + 2)
    for page in range(1, pages + 1):
        patient = page // 3
        c.setFont("Ref-Bold", 13)
        c.drawString(margin, height - 40, f"NEWS2 observation chart — page {page}")
        c.setFont("Ref-Bold", 12)
        c.drawString(margin, height - 62, f"ÖZTÜRK-{patient:03d}, Michał")
        c.setFont("Ref", 8)
        c.drawString(margin, height - 76, f"DOB 22-Nov-1981 (45 y) · Sex Male · Bed {patient % 28}")
        c.drawString(margin, height - 88, "Allergies: Latex (contact dermatitis, moderate)")
        c.drawString(300, height - 62, f"999 454 {7100 + patient:04d}")
        c.drawString(300, height - 76, f"Hosp no DH{100000 + patient:06d}")
        c.drawString(300, height - 88, "Ward 3 — Dewi Sant · Dr Fatima Chaudhry")
        c.drawString(margin, height - 104, "Data as of 30-Nov-2026 16:52")
        c.drawRightString(width - margin, height - 104, f"Page {page % 2 + 1} of 2")
        c.doForm("grid")
        c.setFont("Ref", 6.5)
        for col in range(COLUMNS):
            x = margin + (col + 2) * col_w + 2
            c.drawString(x, grid_top - 8, f"2{col % 10}-Nov")
            for row in range(0, ROWS, 5):
                c.drawString(x, 80 + row * row_h + 2, str(60 + (row * 7 + col * 3) % 90))
        c.setFont("Ref", 6)
        c.drawString(margin, 60, "Score key: 3 red, 2 amber, 1 yellow; escalate as the chart says.")
        c.drawString(margin, 50, f"Form ID Q76-{page:05d}-G · NEWS2 observation chart v1.0")
        _qr(c, f"Q76-{page:05d}-G/{page % 2 + 1}", width - margin - 48, height - 100, 48)
        c.showPage()
    c.save()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=145)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    write(Path(args.out), args.pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
