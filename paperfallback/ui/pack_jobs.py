"""What the print dialogs ask the render engine for, and what comes back.

The only UI module that calls ``paperfallback.render``: a ``PackChoice`` (plain data,
built by the dialogs) becomes a job for a ``BackgroundTask`` that returns a
``RenderedPack`` (the PDF in memory, its page count and the issued form instances). The
PDF never goes to a temporary file: it holds patient data.

IDs come from the register's allocator for packs that may be printed, and from a
throwaway in-memory allocator for the live page count, so counting never uses up IDs.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from paperfallback.cache.store import CacheStore
from paperfallback.domain.errors import InputError, PaperFallbackError
from paperfallback.domain.keyed import KeyedSource
from paperfallback.formspec import FormCatalogue, load_catalogue
from paperfallback.reentry.observations import KeyedObservations
from paperfallback.register import IdAllocator, IssuedForm, MemoryAllocator, Register, pc_code_for
from paperfallback.register.reservation import ReservedIds, form_ids_or_reserve
from paperfallback.render import PackRequest, render_pack
from paperfallback.settings import Settings
from paperfallback.ui.background import TaskControl

PackKind = Literal["ward", "patients", "blank", "clinic", "theatre"]


@dataclass(frozen=True, slots=True)
class PackChoice:
    """What the user chose in a print dialog."""

    kind: PackKind
    title: str
    ward_code: str = ""
    patient_ids: tuple[str, ...] = ()  # cache ids (kind "patients")
    form_ids: tuple[str, ...] = ()
    copies: int = 1
    blank_count: int = 1  # kind "blank": how many of each form
    # Ward or patients pack: blank copies added at the end, (form id, how many) each, for
    # patients not yet on the list (new admissions). Same path as kind "blank".
    blank_extra: tuple[tuple[str, int], ...] = ()
    clinic: str = ""
    theatre: str = ""
    day: date | None = None

    @property
    def file_stem(self) -> str:
        """A file name a nurse recognises: 'Ward 3 pack', 'Clinic list ...'."""
        keep = "".join(c if c.isalnum() or c in " -_" else "-" for c in self.title)
        return " ".join(keep.split())[:80] or "PaperFallback pack"


@dataclass(frozen=True, slots=True)
class PackPart:
    """A complete PDF of whole forms, ready for a printer: one of the parts a pack is drawn
    in (render.pack_parts), with the forms it holds (recorded once it reached a printer)."""

    pdf: bytes
    first_page: int  # in the whole pack, from 1
    pages: int
    issued: tuple[IssuedForm, ...] = ()

    @property
    def last_page(self) -> int:
        return self.first_page + self.pages - 1


@dataclass(frozen=True, slots=True)
class RenderedPack:
    choice: PackChoice
    pdf: bytes
    page_count: int
    issued: tuple[IssuedForm, ...] = field(default_factory=tuple)
    blank_pages: int = 0  # of page_count: blank copies added after a ward/patients pack
    note: str = ""  # said to the nurse with the pages: e.g. IDs came from the reserve
    parts: tuple[PackPart, ...] = ()  # the pack as drawn, in order (pdf joins them)


@dataclass(frozen=True, slots=True)
class RenderPlace:
    """Where a job finds the stores (the worker opens its own connections)."""

    data_dir: Path
    key: str
    key_source: str
    settings: Settings
    catalogue: FormCatalogue = field(default_factory=load_catalogue)  # the app context's


def render_job(choice: PackChoice, place: RenderPlace, *, count_only: bool = False,
               on_part: Callable[[PackPart], None] | None = None,
               ) -> Callable[[TaskControl], RenderedPack]:
    """A job rendering ``choice``; ``count_only`` uses throwaway IDs (for page counts);
    ``on_part`` is handed each part as it is drawn (see ``render_choice``)."""

    def job(control: TaskControl) -> RenderedPack:
        if choice.kind == "blank":  # no key, cache or work store needed (issue #12)
            if count_only:
                return render_choice(choice, place, MemoryAllocator(pc_code="T1"), control)
            ids = form_ids_or_reserve(place.data_dir, lambda: (place.key, place.key_source),
                                 place.settings)
            try:
                pack = render_choice(choice, place, ids, control, on_part=on_part)
            finally:
                ids.close()
            # The register could not be used: say so, as the command line does (issue #12).
            return dataclasses.replace(pack, note=ids.problem) if ids.problem else pack
        with Register.open(place.data_dir, place.key, place.settings,
                           key_source=place.key_source) as register:
            allocator: IdAllocator = MemoryAllocator(pc_code="T1") if count_only else register
            return render_choice(choice, place, allocator, control,
                                 keyed=KeyedObservations(register.work, place.catalogue),
                                 on_part=on_part)

    return job


def render_choice(choice: PackChoice, place: RenderPlace, allocator: IdAllocator,
                  control: TaskControl, *, keyed: KeyedSource | None = None,
                  on_part: Callable[[PackPart], None] | None = None) -> RenderedPack:
    """Render on the calling (worker) thread, with its own cache connection. ``keyed``:
    observations keyed from paper, shown on the NEWS2 chart and handover list.
    ``on_part``: the pack is drawn in parts, each handed over as soon as it is drawn (a
    printer starts on the first while the rest is drawn, issue #15); without it, one part
    per request."""
    requests = pack_requests(choice, place.catalogue)
    store = None
    if choice.kind != "blank":
        store = CacheStore.open(place.data_dir, place.key, key_source=place.key_source,
                                readonly=True)
    try:
        parts: list[PackPart] = []
        issued: list[IssuedForm] = []
        pages = blank_pages = 0
        for index, request in enumerate(requests):
            control.check()
            out = io.BytesIO()
            part_forms: list[list[IssuedForm]] = []

            def progress(done: int, total: int, index: int = index) -> None:
                control.progress(done, total, f"Preparing page {done} of {total}" + (
                    f" (form {index + 1} of {len(requests)})" if len(requests) > 1 else ""))

            def part(pdf: bytes, count: int, forms: list[list[IssuedForm]] = part_forms,
                     ) -> None:
                drawn = PackPart(pdf, 1 + sum(p.pages for p in parts), count,
                                 tuple(forms.pop()))
                parts.append(drawn)
                if on_part is not None:
                    on_part(drawn)

            result = render_pack(request, store, place.catalogue, place.settings, out=out,
                                 allocate_ids=allocator, progress=progress,
                                 cancelled=control.is_cancelled, keyed=keyed,
                                 parts=part if on_part is not None else None,
                                 part_forms=part_forms.append if on_part is not None else None)
            if on_part is None:
                parts.append(PackPart(out.getvalue(), pages + 1, result.page_count,
                                      tuple(result.issued)))
            issued.extend(result.issued)
            pages += result.page_count
            if request.blank_form and choice.kind != "blank":
                blank_pages += result.page_count
    finally:
        if store is not None:
            store.close()
    return RenderedPack(choice=choice, pdf=join_parts(parts), page_count=pages,
                        issued=tuple(issued), blank_pages=blank_pages, parts=tuple(parts))


def pack_requests(choice: PackChoice, catalogue: FormCatalogue) -> list[PackRequest]:
    """The engine's requests for a choice: one, or one per blank form (a ward or patients
    pack is followed by one request per form it adds blank copies of)."""
    forms = tuple(choice.form_ids)
    if choice.kind == "ward":
        return [PackRequest(ward=choice.ward_code, forms=forms, copies=choice.copies),
                *_blank_requests(choice.blank_extra)]
    if choice.kind == "patients":
        patient_forms = tuple(f for f in forms if catalogue.get(f).scope == "patient")
        if not patient_forms:
            raise InputError("tick a form that is printed per patient (the handover list is "
                             "printed for the whole ward only)")
        return [PackRequest(cache_patient_ids=choice.patient_ids, forms=patient_forms,
                            copies=choice.copies), *_blank_requests(choice.blank_extra)]
    if choice.kind == "blank":
        return [PackRequest(blank_form=f, count=choice.blank_count) for f in forms]
    if choice.kind == "clinic":
        return [PackRequest(clinic=choice.clinic, day=choice.day, forms=forms)]
    return [PackRequest(theatre=choice.theatre, day=choice.day, forms=forms)]


def _blank_requests(extra: tuple[tuple[str, int], ...]) -> list[PackRequest]:
    return [PackRequest(blank_form=form_id, count=count) for form_id, count in extra
            if count > 0]


def join_parts(parts: Sequence[PackPart]) -> bytes:
    """Parts as one PDF (Preview, Save PDF, a PDF printer): blank forms of several kinds,
    a ward pack followed by blank copies, or the parts a pack was printed in."""
    if len(parts) == 1:
        return parts[0].pdf
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(io.BytesIO(part.pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def record_issued(place: RenderPlace, pack: RenderedPack) -> int:
    """Record a printed or saved pack's form instances in the register (once each)."""
    return record_forms(place, pack.issued)


def record_forms(place: RenderPlace, issued: Sequence[IssuedForm]) -> int:
    """Record printed or saved form instances in the register (once each): a whole pack,
    or the parts of one that reached a printer when the rest did not."""
    if not issued:
        return 0
    try:
        with Register.open(place.data_dir, place.key, place.settings,
                           key_source=place.key_source) as register:
            return register.record(issued)
    except PaperFallbackError:
        if any(i.patient_id for i in issued):
            raise
        # Blank forms wait in the reserve until the register can be opened (issue #12).
        return ReservedIds(place.data_dir, pc_code_for(place.settings)).record(list(issued))
