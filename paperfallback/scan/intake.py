"""``scans import`` and ``scans status`` over the core: identify, check, store, report.

Statuses (the JSON contract of issue #16): ``identified`` (attached to its form instance and
page), ``duplicate`` (that page had already come back: reported, not stored twice),
``unreadable`` (no code could be read: queued with its image for a clerk; a blank sheet is
reported with ``blank: true`` and not queued) and ``not-in-register`` (a readable code for
a form this PC never issued: another PC's or another site's page, queued, never attached).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperfallback.register.store import COVER_FORM_ID, IssuedForm, Register
from paperfallback.scan.identify import identify
from paperfallback.scan.pages import ScanFileError, read_pages, scan_files
from paperfallback.scan.store import ScanStore, encode_image

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PageOutcome:
    source: str
    index: int
    form_id: str | None
    page: int | None
    status: str
    blank: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "index": self.index,
                                "form_id": self.form_id, "page": self.page,
                                "status": self.status}
        if self.blank:
            data["blank"] = True
        return data


@dataclass
class ImportReport:
    pages: list[PageOutcome] = field(default_factory=list)
    unreadable_files: list[str] = field(default_factory=list)  # "file: reason"

    def count(self, status: str) -> int:
        return sum(1 for p in self.pages if p.status == status)

    def to_json(self) -> dict[str, Any]:
        return {"pages": [p.to_json() for p in self.pages],
                "identified": self.count("identified"),
                "unreadable": self.count("unreadable"),
                "duplicate": self.count("duplicate"),
                "not_in_register": self.count("not-in-register"),
                "files_unreadable": self.unreadable_files}


def import_scans(paths: Iterable[Path], register: Register, store: ScanStore, *,
                 progress: Callable[[PageOutcome], None] | None = None) -> ImportReport:
    """Identify and store every page of every file; a bad file never stops the others."""
    report = ImportReport()
    issued: dict[str, IssuedForm | None] = {}
    for path in scan_files(list(paths)):
        try:
            for page in read_pages(path):
                outcome = _take(page.source, page.index, page.image, register, store, issued)
                report.pages.append(outcome)
                if progress:
                    progress(outcome)
        except ScanFileError as exc:
            report.unreadable_files.append(str(exc))
            log.warning("scans: %s", exc)
    log.info("scans: %d pages: %d identified, %d duplicate, %d unreadable, %d not in register",
             len(report.pages), report.count("identified"), report.count("duplicate"),
             report.count("unreadable"), report.count("not-in-register"))
    return report


def _take(source: Path, index: int, image: Any, register: Register, store: ScanStore,
          issued: dict[str, IssuedForm | None]) -> PageOutcome:
    code = identify(image)
    name = str(source)
    if code.form_id is None or code.page is None:
        if code.blank:
            return PageOutcome(name, index, None, None, "unreadable", blank=True)
        store.add(form_id=None, page=None, status="queued", source=name, source_index=index,
                  payload=code.text, image=encode_image(image))
        return PageOutcome(name, index, None, None, "unreadable")
    if code.form_id not in issued:
        issued[code.form_id] = register.get(code.form_id)
    form = issued[code.form_id]
    if form is None or not 1 <= code.page <= form.page_count:
        store.add(form_id=code.form_id, page=code.page, status="not-in-register", source=name,
                  source_index=index, payload=code.text, image=encode_image(image))
        return PageOutcome(name, index, code.form_id, code.page, "not-in-register")
    if store.has_page(code.form_id, code.page):
        return PageOutcome(name, index, code.form_id, code.page, "duplicate")
    store.add(form_id=code.form_id, page=code.page, status="identified", source=name,
              source_index=index, payload=code.text, image=encode_image(image))
    return PageOutcome(name, index, code.form_id, code.page, "identified")


def scan_status(register: Register, store: ScanStore, *, ward: str | None = None
                ) -> dict[str, Any]:
    """Per issued form, which pages came back and which are still out on the ward."""
    returned = store.returned_pages()
    forms: list[dict[str, Any]] = []
    totals = {"complete": 0, "partial": 0, "not_returned": 0}
    for item in register.list():
        if item.form_id == COVER_FORM_ID:
            continue  # the pack cover is not a form to come back
        if ward and item.ward_code.casefold() != ward.casefold():
            continue
        back = sorted(returned.get(item.instance_id, set()))
        missing = [p for p in range(1, item.page_count + 1) if p not in back]
        state = "complete" if not missing else "partial" if back else "not_returned"
        totals[state] += 1
        forms.append({"form_id": item.instance_id, "form": item.form_id,
                      "patient": _who(item), "pages": item.page_count,
                      "returned": back, "missing": missing, "state": state})
    return {"forms": forms, **totals}


def _who(item: IssuedForm) -> str | None:
    if item.patient_name or item.nhs_number or item.hospital_number:
        ident = item.nhs_number or item.hospital_number or ""
        return f"{item.patient_name} ({ident})" if ident else item.patient_name
    return None


def assign_page(page_id: int, typed: str, register: Register, store: ScanStore) -> str:
    """Attach a queued page to the form ID and page a clerk typed while seeing it
    (``Q76-00003-M/2``, as the QR says it, or the ID and ``page``); the same checks as a
    scanned code: check character, this PC's register, page in range, not already back."""
    from paperfallback.domain.errors import InputError
    from paperfallback.render.qr import parse_qr_payload

    waiting = {p.id: p for p in store.queued()}
    if page_id not in waiting:
        raise InputError(f"scanned page {page_id} is not waiting in the queue")
    form_id, page = parse_qr_payload(typed)
    issued = register.require(form_id)
    if page is None:
        if issued.page_count != 1:
            raise InputError(f"{form_id} has {issued.page_count} pages: type the page too, "
                             f"as {form_id}/2")
        page = 1
    if not 1 <= page <= issued.page_count:
        raise InputError(f"{form_id} has {issued.page_count} pages, not a page {page}")
    if store.has_page(form_id, page):
        raise InputError(f"page {page} of {form_id} has already come back")
    store.assign(page_id, form_id, page, f"{form_id}/{page}")
    log.info("scans: queued page %d attached to %s/%d by hand", page_id, form_id, page)
    return f"{form_id}/{page}"
