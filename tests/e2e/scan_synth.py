"""Realistic scans of printed pages, for the scan-back tests and benchmark.

A page is rasterised at a scanner's resolution (150–300 dpi), written on (digits in a
handwriting-like stroke and ticks), slightly rotated and scaled as a sheet fed through an
automatic document feeder is, given sensor noise, and saved with JPEG artefacts.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pymupdf
from PIL import Image, ImageDraw, ImageFilter


def rasterise(pdf: Path, dpi: int) -> list[Image.Image]:
    doc = pymupdf.open(pdf)
    pages = []
    for page in doc:
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        pages.append(Image.frombytes("L", (pix.width, pix.height), pix.samples))
    return pages


def scribble(image: Image.Image, rng: random.Random, marks: int = 12) -> Image.Image:
    """Pen strokes in the body of the page: digits' worth of wobbly lines and a few ticks."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    for _ in range(marks):
        x, y = rng.uniform(0.1, 0.8) * w, rng.uniform(0.25, 0.9) * h
        points = [(x + rng.uniform(-1, 1) * w * 0.01 + k * w * 0.004,
                   y + rng.uniform(-1, 1) * h * 0.006) for k in range(6)]
        draw.line(points, fill=rng.randint(10, 60), width=max(2, w // 600))
    return out


def as_scanned(image: Image.Image, rng: random.Random, *, angle: float | None = None,
               scale: float | None = None, upside_down: bool = False) -> Image.Image:
    """Rotation ±3°, scale ±2 %, noise, blur and a JPEG round trip (quality 60–85)."""
    angle = rng.uniform(-3, 3) if angle is None else angle
    scale = rng.uniform(0.98, 1.02) if scale is None else scale
    out = image.rotate(angle + (180 if upside_down else 0), resample=Image.Resampling.BILINEAR,
                       expand=True, fillcolor=235)
    out = out.resize((round(out.width * scale), round(out.height * scale)),
                     Image.Resampling.BILINEAR)
    noise = Image.effect_noise(out.size, 18).point(lambda v: (v - 128) // 3 + 128)
    out = Image.blend(out, noise, 0.12).filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", quality=rng.randint(60, 85))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def blank_sheet(size: tuple[int, int], rng: random.Random) -> Image.Image:
    sheet = Image.new("L", size, 240)
    noise = Image.effect_noise(size, 10).point(lambda v: (v - 128) // 4 + 240)
    return Image.blend(sheet, noise, 0.5)


def save_pdf(images: list[Image.Image], path: Path, dpi: int) -> Path:
    """A multi-page PDF of page images, as a scan-to-folder writes."""
    first, *rest = [i.convert("L") for i in images]
    first.save(path, format="PDF", save_all=True, append_images=rest, resolution=dpi)
    return path


def save_tiff(images: list[Image.Image], path: Path, dpi: int) -> Path:
    first, *rest = images
    first.save(path, format="TIFF", save_all=True, append_images=rest, dpi=(dpi, dpi),
               compression="tiff_deflate")
    return path
