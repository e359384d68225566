"""Page images out of what a multifunction printer's scan-to-folder writes.

PDF (rasterised with pypdfium2: Apache/BSD licensed, unlike AGPL PyMuPDF, so it can ship),
multi-page TIFF, PNG and JPEG, or a folder of those. Every page is yielded as an 8-bit
greyscale image: the QR and the marks need no colour, and greyscale is a third of the
memory of RGB at scan resolutions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageSequence, UnidentifiedImageError

from paperfallback.domain.errors import InputError

PDF_DPI = 200  # what a scan-to-folder PDF is rasterised at: the QR needs ~100 dpi
IMAGE_SUFFIXES = {".pdf", ".tif", ".tiff", ".png", ".jpg", ".jpeg"}
MAX_PIXELS = 60_000_000  # an A4 page at 600 dpi is 35 M pixels; a bomb is refused


class ScanFileError(InputError):
    """A file that cannot be read at all (the only case ``scans import`` exits 1 for)."""


@dataclass(frozen=True, slots=True)
class PageImage:
    source: Path
    index: int  # 1-based page of the source file
    image: Image.Image  # mode "L"


def scan_files(paths: list[Path]) -> list[Path]:
    """Files to read, in order: folders expand to their scan files, sorted by name."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir()
                                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            files.append(path)
        else:
            raise ScanFileError(f"{path}: no such file or folder")
    return files


def read_pages(path: Path) -> Iterator[PageImage]:
    """Each page of one scan file as a greyscale image."""
    if path.suffix.lower() == ".pdf":
        yield from _pdf_pages(path)
    else:
        yield from _image_pages(path)


def _pdf_pages(path: Path) -> Iterator[PageImage]:
    import pypdfium2 as pdfium  # only scan commands pay for it

    try:
        pdf = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as exc:
        raise ScanFileError(f"{path}: not a readable PDF ({exc})") from exc
    try:
        for number in range(len(pdf)):
            page = pdf[number]
            try:
                image = _scanned_image(page)
                if image is None:
                    bitmap = page.render(scale=PDF_DPI / 72, grayscale=True)
                    image = bitmap.to_pil().convert("L")
            finally:
                page.close()
            yield PageImage(path, number + 1, image)
    finally:
        pdf.close()


def _scanned_image(page: Any) -> Image.Image | None:
    """The page's own scan when the page is one upright image covering it, as a
    scan-to-folder PDF is: decoded at the scanner's resolution, ~10x faster than
    rendering. Anything else (text, several objects, a flipped or turned placement) is
    rendered instead, so what is identified is always what the page shows."""
    import pypdfium2.raw as pdfium_c

    objects = list(page.get_objects(max_depth=1))
    if len(objects) != 1 or objects[0].type != pdfium_c.FPDF_PAGEOBJ_IMAGE:
        return None
    matrix = objects[0].get_matrix()
    width, height = page.get_size()
    upright = matrix.b == 0 and matrix.c == 0 and matrix.a > 0 and matrix.d > 0
    if not upright or matrix.a < 0.9 * width or matrix.d < 0.9 * height:
        return None
    try:
        image: Image.Image = objects[0].get_bitmap(render=False).to_pil().convert("L")
    except Exception:  # an exotic image encoding: render the page instead
        return None
    return image


def _image_pages(path: Path) -> Iterator[PageImage]:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ScanFileError(f"{path}: not a readable image ({exc})") from exc
    with image:
        try:
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                yield PageImage(path, number, frame.convert("L"))
        except (OSError, Image.DecompressionBombError) as exc:
            raise ScanFileError(f"{path}: page unreadable ({exc})") from exc
