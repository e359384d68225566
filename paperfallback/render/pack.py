"""Packs: the PDF a nurse prints, for a ward, patients, a clinic, a theatre list, or blank
forms. Qt-free, so the desktop app, the CLI and the tests all call :func:`render_pack`.

IDs are reserved from the caller's allocator while rendering (two previews never share
one); the returned :class:`IssuedForm` list is recorded in the register only when the
caller confirms the pack was printed or saved. A cancelled render writes nothing.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from reportlab import rl_config
from reportlab.pdfgen.canvas import Canvas

from paperfallback.cache.staleness import format_uk, utc_now
from paperfallback.cache.store import CacheStatus, CacheStore
from paperfallback.domain.errors import InputError, PaperFallbackError
from paperfallback.domain.keyed import KeyedSource, with_keyed
from paperfallback.domain.nhs_number import format_nhs_number
from paperfallback.domain.records import PatientRecord, Ward
from paperfallback.formspec.catalogue import FormCatalogue
from paperfallback.formspec.models import (
    ChartSection,
    FormSpec,
    LinesSection,
    PageSpec,
    TableSection,
)
from paperfallback.formspec.vocabulary import PATIENT_SECTION
from paperfallback.gc_policy import gc_paused
from paperfallback.register import COVER_FORM_ID
from paperfallback.register.store import BatchIdAllocator, IdAllocator, IssuedForm
from paperfallback.render.chart_section import (
    keyed_times_shown,
    paper_totals_shown,
    unchecked_totals_shown,
)
from paperfallback.render.draw import LIGHT_GREY, MM, draw_text, text_in_box
from paperfallback.render.fonts import BOLD, REGULAR
from paperfallback.render.furniture import (
    Banner,
    PageInfo,
    blank_patient_boxes,
    draw_furniture,
    local_day,
    stale_text,
)
from paperfallback.render.instance import Geometry, LaidOut, geometry, layout_form
from paperfallback.render.layout import Block, Stats
from paperfallback.render.pack_parts import Progress, draw_in_parts
from paperfallback.render.prefill import (
    UNCHECKED_NOTE,
    RowContext,
    keyed_note,
    latest_is_unchecked,
    latest_news2_score,
    paper_total_note,
    printed_name,
)
from paperfallback.settings import Settings


class PackCancelled(PaperFallbackError):
    """The user cancelled the pack; nothing was written and no form was issued."""


@dataclass(frozen=True, slots=True)
class PackRequest:
    """What to print. Exactly one of ward, patient_ids, clinic (+day), theatre (+day) or
    blank_form. ``forms`` empty: the ward's default set (settings.forms_for_ward)."""

    ward: str | None = None  # code or name, any case
    patient_ids: tuple[str, ...] = ()  # NHS or hospital numbers (as typed at the CLI)
    cache_patient_ids: tuple[str, ...] = ()  # cache ids (the app's selected patients)
    clinic: str | None = None
    theatre: str | None = None
    day: date | None = None
    blank_form: str | None = None
    count: int = 1  # blank forms: how many
    forms: tuple[str, ...] = ()
    copies: int = 1  # each copy is its own instance with its own ID
    cover_sheet: bool | None = None  # default: a cover sheet for ward packs

    def kind(self) -> str:
        chosen = [name for name, value in (
            ("ward", self.ward), ("patients", self.patient_ids + self.cache_patient_ids),
            ("clinic", self.clinic),
            ("theatre", self.theatre), ("blank", self.blank_form)) if value]
        if len(chosen) != 1:
            raise InputError("choose one of a ward, patients, a clinic, a theatre or a blank "
                             f"form (got {', '.join(chosen) or 'none'})")
        return chosen[0]


@dataclass(frozen=True, slots=True)
class PackResult:
    page_count: int
    issued: list[IssuedForm]
    size_bytes: int = 0


@dataclass
class _Job:
    spec: FormSpec
    banner: Banner
    subject: RowContext | None
    table_rows: dict[str, list[RowContext]] = field(default_factory=dict)
    from_cache: bool = True
    record: PatientRecord | None = None
    ward_code: str = ""
    clinic: str = ""
    theatre: str = ""
    day: date | None = None


@dataclass
class _Instance:
    job: _Job
    instance_id: str
    downtime_number: str | None
    laid: LaidOut
    title: str
    version: str
    cover: bool = False


@gc_paused()  # a ward pack makes ~10^5 small acyclic objects: see gc_policy
def render_pack(
    request: PackRequest,
    store: CacheStore | None,
    forms: FormCatalogue,
    settings: Settings,
    *,
    out: Path | BinaryIO,
    allocate_ids: IdAllocator,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    now: datetime | None = None,
    keyed: KeyedSource | None = None,
    parts: Callable[[bytes, int], None] | None = None,
    part_forms: Callable[[list[IssuedForm]], None] | None = None,
) -> PackResult:
    """Render a pack to ``out`` (a path, written atomically, or a binary stream).

    ``parts(pdf, pages)``: instead of one PDF to ``out``, hand over the pack as complete
    PDFs, each as soon as it is drawn, so a printer can start on the first while the rest
    renders (issue #15): the cover sheet and the ward's own forms (the handover list),
    then whole patients a few dozen pages at a time (:mod:`paperfallback.render.pack_parts`).
    ``out`` is not written then. ``part_forms(issued)``: each part's forms, before the part
    (the app records the forms of the parts that reached a printer when a print stops).

    ``allocate_ids`` hands out form IDs (and downtime numbers); a :class:`Register` reserves
    the pack's IDs in one transaction. ``progress(done, total)`` is called per page;
    ``cancelled()`` is polled between forms and raises :class:`PackCancelled` (nothing is
    written). ``now`` fixes the printed time and the staleness check (tests). Returns the
    page count and the :class:`IssuedForm` list, in print order, for the caller to
    ``Register.record`` once the pack is printed or saved. Raises InputError for an unknown
    ward, patient, clinic, theatre or form, and NoCache when a pre-filled pack has no cache.

    ``keyed`` gives each patient's observations keyed from paper since the extract
    (paperfallback.reentry.observations.KeyedObservations): in a long outage the NEWS2
    chart and the handover list show them beside the cache's, marked ``P`` with a footnote
    saying when they were keyed. Every caller that prints for a ward should pass it.
    """
    now = now or utc_now()
    status = store.status(stale_minutes=settings.stale_minutes, now=now) if store else None
    kind = request.kind()
    jobs, cover_ward = _jobs(request, kind, store, forms, settings, now, keyed)
    stale = bool(status and status.has_snapshot and status.is_stale)
    warning = ""
    if stale and status and status.freshness:
        warning = stale_text(status.freshness, settings.stale_minutes)

    def check_cancelled() -> None:
        if cancelled is not None and cancelled():
            raise PackCancelled("printing was cancelled; no pack was saved")

    want_cover = request.cover_sheet if request.cover_sheet is not None else kind == "ward"
    if isinstance(allocate_ids, BatchIdAllocator):
        copies = max(1, request.copies)
        allocate_ids.reserve(
            len(jobs) * copies + int(want_cover and cover_ward is not None),
            sum(copies for j in jobs if j.spec.registration_number),
        )
    cover_id = allocate_ids.instance_id() if (want_cover and cover_ward is not None) else None
    instances: list[_Instance] = []
    for job in jobs:
        check_cancelled()
        job = _with_keyed_note(job)  # just before its layout: one chart's points, computed once
        for _copy in range(max(1, request.copies)):
            laid = layout_form(job.spec, subject=job.subject, table_rows=job.table_rows,
                               now=now, stale=stale and job.from_cache)
            instance_id = allocate_ids.instance_id()
            downtime = allocate_ids.downtime_number() if job.spec.registration_number else None
            banner = job.banner
            if downtime:
                banner = Banner(kind="downtime", downtime_number=downtime)
            job_copy = dataclasses.replace(job, banner=banner)
            instances.append(_Instance(job_copy, instance_id, downtime, laid,
                                       job.spec.title, job.spec.version))
    if cover_id is not None and cover_ward is not None:
        instances.insert(0, _cover_instance(cover_ward, jobs, instances, status, now, stale,
                                            cover_id))
    total = sum(len(i.laid.pages) for i in instances)
    printed_on = f"{settings.pc_id} ({settings.site_code})"
    issued: list[IssuedForm] = []
    if parts is None:
        data = _draw(instances, status, now, settings, warning, total, progress,
                     check_cancelled)
        _write(out, data)
        size = len(data)
        issued = [_issued(i, status, now, settings, printed_on, stale) for i in instances]
    else:  # each part drawn on its own canvas: a complete PDF the printer can start on
        def draw_part(chosen: list[_Instance], step: Callable[..., Progress | None]) -> bytes:
            data = _draw(chosen, status, now, settings, warning, total, step(progress),
                         check_cancelled)
            # the parts are the instances in order, each once: each part's forms made once
            issued.extend(forms := [_issued(i, status, now, settings, printed_on, stale)
                                    for i in chosen])
            if part_forms is not None:  # the part's forms, before the part is handed over
                part_forms(forms)
            return data
        size = draw_in_parts(
            instances, lambda i: i.job.record.patient.id if i.job.record else None,
            lambda i: len(i.laid.pages), parts, draw_part)
    return PackResult(page_count=total, issued=issued, size_bytes=size)


# ---- what to print ----------------------------------------------------------------


def _patient_job(spec: FormSpec, record: PatientRecord, now: datetime) -> _Job:
    return _Job(spec, Banner(kind="patient", record=record),
                RowContext.for_record(record, now), record=record,
                ward_code=record.stay.ward_code if record.stay else "")


def _ward_rows(records: list[PatientRecord], now: datetime) -> list[RowContext]:
    return [RowContext.for_record(r, now) for r in records]


def _with_keyed_note(job: _Job) -> _Job:
    """Add the ``P`` footnote to the job's legend when its pages show keyed values."""
    times = []
    papers: list[tuple[datetime, str]] = []
    unchecked = False
    for section in job.spec.sections:
        if isinstance(section, ChartSection) and job.record is not None:
            times += keyed_times_shown(job.record, section)
            papers += paper_totals_shown(job.record, section)
            unchecked = unchecked or unchecked_totals_shown(job.record, section)
        elif isinstance(section, TableSection) and any(
                f.prefill == "news2.latest" for f in section.fields):
            for row in job.table_rows.get(section.source, []):
                latest = latest_news2_score(row.record) if row.record else None
                if row.record is not None and latest is not None and latest.keyed_at:
                    times.append(latest.keyed_at)
                    unchecked = unchecked or latest_is_unchecked(row.record)
    notes = [n for n in (keyed_note(times), paper_total_note(papers),
                         UNCHECKED_NOTE if unchecked else "") if n]
    if not notes:
        return job
    spec = job.spec.model_copy(update={"legend": [*job.spec.legend, *notes]})
    return dataclasses.replace(job, spec=spec)


def _jobs(request: PackRequest, kind: str, store: CacheStore | None, forms: FormCatalogue,
          settings: Settings, now: datetime,
          keyed: KeyedSource | None) -> tuple[list[_Job], Ward | None]:
    if kind == "blank":
        assert request.blank_form is not None
        spec = forms.get(request.blank_form)
        if request.count < 1:
            raise InputError("the count of blank forms must be at least 1")
        banner = _blank_banner(spec)
        return [_Job(spec, banner, None, from_cache=False) for _ in range(request.count)], None
    if store is None:
        raise InputError("a pre-filled pack needs the cache")
    store.require_snapshot()
    if kind == "ward":
        assert request.ward is not None
        ward = store.resolve_ward(request.ward)
        specs = forms.resolve(request.forms or settings.forms_for_ward(ward.code))
        _check_scopes(specs, {"ward", "patient"}, "a ward pack")
        records = [with_keyed(r, keyed) for r in store.ward_records(ward.code)]
        jobs: list[_Job] = []
        for spec in specs:
            if spec.scope == "ward":
                jobs.append(_Job(spec, _ward_banner(ward, records), None,
                                 {"ward_patients": _ward_rows(records, now)},
                                 ward_code=ward.code))
        for record in records:
            jobs += [_patient_job(s, record, now) for s in specs if s.scope == "patient"]
        return jobs, ward
    if kind == "patients":
        jobs = []
        cache_ids = [store.find_patient(i).id for i in request.patient_ids]
        for patient_id in [*cache_ids, *request.cache_patient_ids]:
            record = with_keyed(store.patient_record(patient_id), keyed)
            ward_code = record.stay.ward_code if record.stay else None
            if request.forms:
                specs = forms.resolve(request.forms)
                _check_scopes(specs, {"patient"}, "a patient's forms")
            else:
                specs = [s for s in forms.resolve(settings.forms_for_ward(ward_code))
                         if s.scope == "patient"]
            jobs += [_patient_job(s, record, now) for s in specs]
        return jobs, None
    if request.day is None:
        raise InputError(f"the {kind} list has no date: choose the day of the list")
    day = request.day
    return _list_jobs(request, kind, store, forms, now, day), None


# Day lists: kind -> (form scope, table source, what a row is). The default form is the
# first of that scope in the catalogue (the bundled list, then any site list).
_DAY_LISTS = {
    "clinic": ("clinic-day", "appointments", "appointments"),
    "theatre": ("theatre-day", "theatre_cases", "cases"),
}


def _list_jobs(request: PackRequest, kind: str, store: CacheStore, forms: FormCatalogue,
               now: datetime, day: date) -> list[_Job]:
    """A clinic's or a theatre's list for one day."""
    scope, source, noun = _DAY_LISTS[kind]
    asked = request.clinic if kind == "clinic" else request.theatre
    assert asked is not None
    known = store.clinics() if kind == "clinic" else store.theatres()
    name = _known(asked, known, kind)
    specs = forms.resolve(request.forms) if request.forms else forms.of_scope(scope)[:1]
    if not specs:
        raise InputError(f"no {kind} list form is installed (a form of scope {scope!r})")
    _check_scopes(specs, {scope}, f"a {kind} list")
    rows = []
    if kind == "clinic":
        for appointment, patient in store.appointments(name, day):
            record = store.patient_record(patient.id)
            rows.append(RowContext(now=now, patient=patient, record=record, stay=record.stay,
                                   appointment=appointment))
    else:
        for case, patient in store.theatre_cases(name, day):
            record = store.patient_record(patient.id)
            rows.append(RowContext(now=now, patient=patient, record=record, stay=record.stay,
                                   theatre_case=case))
    banner = Banner(kind="list", heading=f"{kind.title()}: {name}",
                    detail=f"{day:%A %d-%b-%Y}   ·   {len(rows)} {noun}")
    return [_Job(s, banner, None, {source: rows}, day=day,
                 clinic=name if kind == "clinic" else "",
                 theatre=name if kind == "theatre" else "") for s in specs]


def _known(text: str, names: list[str], what: str) -> str:
    for name in names:
        if name.casefold() == text.strip().casefold():
            return name
    raise InputError(f"no {what} {text!r} in the cache; {what}s are: "
                     f"{', '.join(names) or 'none'}")


def _check_scopes(specs: list[FormSpec], allowed: set[str], what: str) -> None:
    """Words, not flags: the app shows these to nurses (the CLI adds no flag either)."""
    for spec in specs:
        if spec.scope not in allowed:
            raise InputError(
                f"form {spec.id!r} is a {spec.scope} form and cannot be printed in {what}"
                + (" (print it as a blank form)" if spec.scope == "blank" else ""))


def _blank_banner(spec: FormSpec) -> Banner:
    if spec.scope == "patient":
        return Banner(kind="blank-patient")
    heading = {"ward": "Ward: ______________________", "clinic-day": "Clinic: ______________",
               "theatre-day": "Theatre: _____________"}.get(spec.scope, spec.title)
    return Banner(kind="list", heading=heading, detail="Date: ____ / ____ / ________")


def _ward_banner(ward: Ward, records: list[PatientRecord]) -> Banner:
    return Banner(kind="list", ward=ward, heading=f"Ward: {ward.name} ({ward.code})",
                  detail=f"{len(records)} patients" + (f"   ·   {ward.site}" if ward.site else ""))


# ---- the cover sheet ----------------------------------------------------------------

# Constants built without validation: validating them would build pydantic's validators
# (and load its plugins) in a print whose forms came validated from the catalogue cache.
_COVER_PAGE = PageSpec.model_construct(size="A4", orientation="portrait", margin_mm=10.0)


def _cover_spec() -> FormSpec:
    return FormSpec.model_construct(
        id=COVER_FORM_ID, version="1.0", title="Ward pack cover sheet", scope="ward",
        page=_COVER_PAGE,
        sections=[LinesSection.model_construct(kind="lines", id="none", fields=[])])



def _cover_instance(ward: Ward, jobs: list[_Job], instances: list[_Instance],
                    status: CacheStatus | None, now: datetime, stale: bool,
                    instance_id: str) -> _Instance:
    page = _COVER_PAGE
    geo = geometry(page, (), stale)
    pages_total = sum(len(i.laid.pages) for i in instances) + 1
    form_ids = list(dict.fromkeys(j.spec.id for j in jobs))
    patients: dict[str, list[_Instance]] = {}
    for inst in instances:
        if inst.job.record is not None:
            patients.setdefault(inst.job.record.patient.id, []).append(inst)
    as_of = format_uk(status.data_as_of) if status and status.data_as_of else "no cache"
    if status and status.data_as_of and not status.data_as_of_known:
        as_of = f"NOT KNOWN (imported {as_of})"

    def draw(c: Canvas, x: float, top: float, width: float) -> None:
        lines = [
            ("Ward", f"{ward.name} ({ward.code})"),
            ("Printed at", format_uk(now)),
            ("Data as of", as_of),
            ("Patients", str(len(patients))),
            ("Forms", ", ".join(form_ids)),
            ("Pages in this pack", f"{pages_total} (including this cover sheet)"),
        ]
        y = top
        for key, value in lines:
            c.setFont(REGULAR, 9)
            draw_text(c, "left", x, y - 5 * MM, key)
            c.setFont(BOLD, 10.5)
            draw_text(c, "left", x + 38 * MM, y - 5 * MM, value)
            y -= 6.5 * MM
        y -= 3 * MM
        c.setFont(BOLD, 9)
        draw_text(c, "left", x, y - 4 * MM, "Contents: check every patient's forms are in the pack")
        y -= 6 * MM
        cols = [("Bed", 14), ("Patient", 62), ("NHS number", 26), ("Hosp no", 24),
                ("Forms (form IDs)", 64)]
        row_h = min(6 * MM, max(3.6 * MM, (y - geo.content_bottom - 8 * MM) /
                                max(1, len(patients) + 1)))
        cx = x
        c.setFillColorRGB(*LIGHT_GREY)
        c.rect(x, y - row_h, width, row_h, stroke=0, fill=1)
        c.setFillGray(0)
        for name, w in cols:
            text_in_box(c, name, cx, y, w * MM, row_h, size=7, bold=True, valign="middle")
            cx += w * MM
        y -= row_h
        for group in patients.values():
            record = group[0].job.record
            assert record is not None
            p = record.patient
            values = [
                record.stay.bed if record.stay else "",
                printed_name(p),
                format_nhs_number(p.nhs_number) or "not recorded",
                p.hospital_number or "",
                ", ".join(f"{i.job.spec.id} {i.instance_id}" for i in group),
            ]
            cx = x
            for (_, w), value in zip(cols, values, strict=True):
                text_in_box(c, value, cx, y, w * MM, row_h, size=7, min_size=4.5,
                            valign="middle")
                cx += w * MM
            c.setLineWidth(0.3)
            c.line(x, y - row_h, x + width, y - row_h)
            y -= row_h

    block = Block(geo.content_h, draw)
    laid = LaidOut([[block]], Stats(prefilled=len(patients)), geo)
    spec_stub = _cover_spec()
    job = _Job(spec_stub, Banner(kind="list", ward=ward, heading=f"Ward pack: {ward.name}",
                                 detail=f"{len(patients)} patients   ·   {pages_total} pages"),
               None, ward_code=ward.code)
    return _Instance(job, instance_id, None, laid, spec_stub.title, "1.0", cover=True)


# ---- drawing ------------------------------------------------------------------------


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Binary (not ASCII85) streams: a fifth smaller and faster. ReportLab reads this
    global when the PDF is formatted, so it is set only around our own rendering."""
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


def _draw(instances: list[_Instance], status: CacheStatus | None, now: datetime,
          settings: Settings, warning: str, total: int,
          progress: Callable[[int, int], None] | None,
          check_cancelled: Callable[[], None]) -> bytes:
    with _binary_streams():
        return _draw_pages(instances, status, now, settings, warning, total, progress,
                           check_cancelled)


def _draw_pages(instances: list[_Instance], status: CacheStatus | None, now: datetime,
                settings: Settings, warning: str, total: int,
                progress: Callable[[int, int], None] | None,
                check_cancelled: Callable[[], None]) -> bytes:
    buffer = io.BytesIO()
    c = Canvas(buffer, invariant=1, pageCompression=1, initialFontName=REGULAR,
               initialFontSize=8)
    c.setTitle("PaperFallback pack")
    c.setAuthor("PaperFallback")
    c.setCreator("PaperFallback")
    printed_on = f"{settings.pc_id} ({settings.site_code})"
    done = 0
    for inst in instances:
        check_cancelled()
        geo: Geometry = inst.laid.geometry
        from_cache = inst.job.from_cache
        for number, blocks in enumerate(inst.laid.pages, start=1):
            c.setPageSize((geo.page_w, geo.page_h))
            info = PageInfo(
                title=inst.title, version=inst.version, instance_id=inst.instance_id,
                page=number, pages=len(inst.laid.pages), banner=inst.job.banner,
                data_as_of=status.data_as_of if (status and from_cache) else None,
                stale_text=warning if from_cache else "", printed_at=now,
                printed_on=printed_on, legend=tuple(inst.job.spec.legend)
                if not inst.cover else (), today=local_day(now),
                data_as_of_known=bool(status is None or status.data_as_of_known),
            )
            draw_furniture(c, info, geo.page_w, geo.page_h, geo.margin)
            inst.laid.stats.page = number
            if number == 1 and inst.job.banner.kind == "blank-patient":
                for field_id, kind, box in blank_patient_boxes(geo.page_w, geo.page_h,
                                                               geo.margin):
                    inst.laid.stats.record_box(PATIENT_SECTION, field_id, None, kind, box)
            y = geo.content_top
            for block in blocks:
                c.saveState()
                block.draw(c, geo.margin, y, geo.content_w)
                c.restoreState()
                y -= block.height
            c.showPage()
            done += 1
            if progress is not None:
                progress(done, total)
    data: bytes = c.getpdfdata()
    return data


def _write(out: Path | BinaryIO, data: bytes) -> None:
    if isinstance(out, Path):
        tmp = out.with_name(out.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, out)
    else:
        out.write(data)


def _issued(inst: _Instance, status: CacheStatus | None, now: datetime, settings: Settings,
            printed_on: str, stale: bool) -> IssuedForm:
    job = inst.job
    record = job.record
    patient = record.patient if record else None
    stats = inst.laid.stats
    geo = inst.laid.geometry  # every keyable box a scan is read against (docs/formats.md)
    layout = {} if inst.cover else {  # a cover sheet has nothing to key
        "scan_layout": stats.scan_layout(geo.page_w, geo.page_h, geo.margin)}
    return IssuedForm(
        instance_id=inst.instance_id,
        form_id=job.spec.id,
        form_version=job.spec.version,
        scope=job.spec.scope,
        page_count=len(inst.laid.pages),
        printed_at=now,
        pc_id=settings.pc_id,
        # Not the import time when the data's own time is unknown (hazard BULK-2).
        data_as_of=status.data_as_of if (status and job.from_cache
                                         and status.data_as_of_known) else None,
        patient_id=patient.id if patient else None,
        nhs_number=patient.nhs_number if patient else None,
        hospital_number=patient.hospital_number if patient else None,
        patient_name=patient.display_name if patient else "",
        ward_code=job.ward_code,
        bed=record.stay.bed if record and record.stay else "",
        clinic=job.clinic,
        theatre=job.theatre,
        session_date=job.day,
        downtime_number=inst.downtime_number,
        blank_columns=stats.blank,
        prefilled_columns=stats.prefilled,
        prefilled_times=tuple(stats.prefilled_times),
        rows=tuple(stats.rows),
        stale=stale and job.from_cache,
        extra={"printed_on": printed_on, **stats.extra, **layout},
        spo2_scale=stats.spo2_scale,
    )
