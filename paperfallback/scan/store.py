"""Scanned page images in the encrypted work store, attached to their form instance and page.

Page images are patient data: they are kept only inside ``work.db`` (SQLCipher), encoded in
memory, never written to a temporary file. Pages that could not be identified are kept too,
in the queue, so a clerk can type the form ID while seeing the image: nothing is dropped and
nothing is attached by guess.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image

from paperfallback.workstore import WorkStore

JPEG_QUALITY = 80  # greyscale 200 dpi A4 ≈ 0.2–0.4 MB: legible for imaging and keying



@dataclass(frozen=True, slots=True)
class StoredPage:
    id: int
    form_id: str | None
    page: int | None
    status: str
    source: str
    source_index: int
    imported_at: datetime


def encode_image(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("L").save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


class ScanStore:
    """The scanned pages of this PC's work store."""

    def __init__(self, work: WorkStore) -> None:
        self.work = work
        self._conn = work.connection  # its table: workstore.migrations, version 4

    def returned_pages(self) -> dict[str, set[int]]:
        """Form instance → the page numbers that have come back."""
        returned: dict[str, set[int]] = {}
        for form_id, page in self._conn.execute(
            "SELECT form_id, page FROM scanned_pages WHERE status = 'identified'"
        ):
            returned.setdefault(form_id, set()).add(int(page))
        return returned

    def has_page(self, form_id: str, page: int) -> bool:
        return self._conn.execute(
            "SELECT 1 FROM scanned_pages WHERE status = 'identified' AND form_id = ? "
            "AND page = ?", (form_id, page),
        ).fetchone() is not None

    def add(self, *, form_id: str | None, page: int | None, status: str, source: str,
            source_index: int, payload: str, image: bytes) -> int:
        """Store one page in its own transaction: a crash keeps every page before it."""
        with self.work.transaction():
            cursor = self._conn.execute(
                "INSERT INTO scanned_pages (form_id, page, status, source, source_index, "
                "imported_at, payload, image) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (form_id, page, status, source, source_index,
                 datetime.now(UTC).isoformat(timespec="seconds"), payload, image),
            )
        return int(cursor.lastrowid or 0)

    def form_pages(self, form_id: str) -> dict[int, tuple[int, str]]:
        """The returned pages of one form instance: page number → (stored id, QR payload)."""
        return {int(r[0]): (int(r[1]), str(r[2])) for r in self._conn.execute(
            "SELECT page, id, payload FROM scanned_pages WHERE status = 'identified' AND "
            "purged_at IS NULL AND form_id = ?", (form_id,))}

    def form_images(self, form_id: str) -> tuple[dict[int, bytes], datetime | None]:
        """A form's returned page images (page → JPEG) and when the last came in; pages
        whose image was removed under the retention rule are left out."""
        images: dict[int, bytes] = {}
        latest: datetime | None = None
        for page, image, imported in self._conn.execute(
            "SELECT page, image, imported_at FROM scanned_pages WHERE status = 'identified' "
            "AND purged_at IS NULL AND form_id = ?", (form_id,)):
            images[int(page)] = bytes(image)
            moment = datetime.fromisoformat(imported)
            latest = moment if latest is None or moment > latest else latest
        return images, latest

    def scanned_at(self, form_id: str) -> datetime | None:
        """When the last of a form's returned pages came in (None: no page with its image
        kept), without reading the images (``form_images`` reads them)."""
        moments = [datetime.fromisoformat(r[0]) for r in self._conn.execute(
            "SELECT imported_at FROM scanned_pages WHERE status = 'identified' AND "
            "purged_at IS NULL AND form_id = ?", (form_id,))]
        return max(moments) if moments else None

    def pages(self, status: str | None = None) -> list[StoredPage]:
        sql = ("SELECT id, form_id, page, status, source, source_index, imported_at "
               "FROM scanned_pages")
        rows = (self._conn.execute(sql + " WHERE status = ? ORDER BY id", (status,))
                if status else self._conn.execute(sql + " ORDER BY id"))
        return [StoredPage(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]),
                           datetime.fromisoformat(r[6])) for r in rows]

    def purge(self, exported: set[str], *, older_than: datetime) -> int:
        """Remove the images of returned pages of exported forms imported before
        ``older_than`` (work-store retention): the fact that the page came back stays, so
        status and the recovery report are unchanged; returns how many were removed."""
        removed = 0
        rows = self._conn.execute(
            "SELECT id, form_id FROM scanned_pages WHERE status = 'identified' AND "
            "purged_at IS NULL AND imported_at < ?",
            (older_than.isoformat(timespec="seconds"),)).fetchall()
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self.work.transaction():
            for page_id, form_id in rows:
                if form_id in exported:
                    self._conn.execute("UPDATE scanned_pages SET image = x'', purged_at = ? "
                                       "WHERE id = ?", (stamp, page_id))
                    removed += 1
        return removed

    def queued(self) -> list[StoredPage]:
        """Pages waiting for a person: no readable code, or a code this PC never issued."""
        return [p for p in self.pages() if p.status in ("queued", "not-in-register")]

    def assign(self, page_id: int, form_id: str, page: int, payload: str) -> None:
        """A clerk who can see the image names its form and page: the page is attached.
        The caller has checked the ID against the register (scan.intake.assign_page)."""
        with self._conn:
            self._conn.execute(
                "UPDATE scanned_pages SET form_id = ?, page = ?, status = 'identified', "
                "payload = ? WHERE id = ? AND status IN ('queued', 'not-in-register')",
                (form_id, page, payload, page_id))

    def image(self, page_id: int) -> bytes:
        row = self._conn.execute(
            "SELECT image FROM scanned_pages WHERE id = ?", (page_id,)).fetchone()
        if row is None or not row[0]:
            raise KeyError(page_id)  # unknown, or removed under the retention rule
        return bytes(row[0])
