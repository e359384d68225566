"""``paperfallback self-test``: can this PC print a safe pack right now? (headless)

IT runs it after installing or updating a ward PC, and CI runs it inside the PyInstaller
bundle: it proves the bundle found its forms, fonts and Qt-free render engine, that the
cache opens with the key this PC is configured with, and that the data is fresh enough.
One line per check ("PASS ..." / "FAIL ..." / "WARN ..."), exit 0 when no check fails.

A WARN is a setup fault IT should fix that does not stop this PC printing safely now, e.g.
no ``pc_code`` (form-instance IDs then use a 3-character code derived from the PC name,
which another of the site's hundreds of PCs may share). It does not fail the self-test, so
a ward PC in an outage still reports itself ready to print; monitoring should alert on it.

The rendered pack holds patient data, so it is written into a private temporary folder
inside the data folder and deleted; its form instances go to a throwaway register, never
the PC's own, so a self-test never shows up as unreturned paper in reconciliation.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from paperfallback.cache.store import CacheStore
from paperfallback.cli.context import AppContext
from paperfallback.domain.errors import PaperFallbackError

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "self-test",
        help="check the cache, its age and printing of every form (headless)",
        description="Open the cache with the configured key, check its age, render a pack "
        "of every form to a temporary PDF and check it. Exit 0 only if all checks pass.",
    )
    parser.add_argument(
        "--max-age-minutes", type=int, metavar="N",
        help="the oldest acceptable cache (default: stale_minutes from settings, 60)",
    )
    parser.set_defaults(func=_run)


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    text: str
    warn: bool = False  # ok, but IT should act (does not change the exit code)

    def line(self) -> str:
        return f"{'FAIL' if not self.ok else 'WARN' if self.warn else 'PASS'} {self.text}"


class Failed(Exception):
    """A check failed; the message completes the check's line."""


class Warned(Exception):
    """A check found something IT should fix that does not stop printing (WARN line)."""


def compact_age(age: timedelta) -> str:
    """'45 min', '3 h 20 min', '2 d 4 h': short enough for one line of a monitoring log."""
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def check_pdf(data: bytes, expected_pages: int | None = None) -> int:
    """A sanity check that needs no PDF library (pypdf is a test tool, not bundled):
    the header, the end-of-file trailer, and the page objects. Returns the page count."""
    if not data.startswith(b"%PDF-1."):
        raise Failed("the file does not start with a PDF header")
    tail = data[-1024:]
    if b"%%EOF" not in tail or (b"startxref" not in tail):
        raise Failed("the PDF has no trailer (truncated?)")
    pages = len(_PDF_PAGE.findall(data))
    if pages == 0:
        raise Failed("the PDF has no pages")
    if expected_pages is not None and pages != expected_pages:
        raise Failed(f"the PDF has {pages} pages but the renderer reported {expected_pages}")
    return pages


class SelfTest:
    """The checks in order; later checks are skipped (as FAIL) when the cache is unusable."""

    def __init__(self, ctx: AppContext, max_age_minutes: int | None) -> None:
        self.ctx = ctx
        self.max_age_minutes = max_age_minutes
        self.store: CacheStore | None = None
        self.catalogue: Any = None
        self.results: list[CheckResult] = []

    def run(self, emit: Callable[[CheckResult], None]) -> bool:
        for check in (self.settings, self.pc_code, self.cache_opens, self.snapshot, self.ward,
                      self.cache_age, self.forms, self.pack):
            try:
                result = CheckResult(True, check())
            except Failed as exc:
                result = CheckResult(False, str(exc))
            except Warned as exc:
                result = CheckResult(True, str(exc), warn=True)
            except PaperFallbackError as exc:
                result = CheckResult(False, f"{_check_name(check)}: {exc}")
            except Exception as exc:  # a self-test reports, it does not crash
                log.exception("self-test %s crashed", _check_name(check))
                result = CheckResult(False, f"{_check_name(check)}: {type(exc).__name__}: {exc}")
            self.results.append(result)
            emit(result)
        return all(r.ok for r in self.results)

    # ---- the checks (each returns its PASS text or raises Failed) -----------------------

    def settings(self) -> str:
        settings = self.ctx.settings
        where = self.ctx.data_dir / "settings.json"
        source = str(where) if where.exists() else "defaults (no settings.json)"
        ward = settings.ward or "all wards"
        return f"settings from {source}: site {settings.site_code}, {ward}, PC {settings.pc_id}"

    def pc_code(self) -> str:
        from paperfallback.register.ids import derived_pc_code, normalise_pc_code

        settings = self.ctx.settings
        if settings.pc_code.strip():
            return f"pc_code {normalise_pc_code(settings.pc_code)} set"
        raise Warned(
            f"pc_code not set: form-instance IDs use {derived_pc_code(settings.pc_id)}, "
            f"derived from the PC name {settings.pc_id!r}, which another PC may share; "
            "ask IT to assign one (docs/install.md)")

    def cache_opens(self) -> str:
        from paperfallback.settings import loose_permissions

        _key, source = self.ctx.key
        where = "keyring" if source == "keyring" else source
        faults, _warnings = loose_permissions(self.ctx.data_dir)
        if faults:  # issue #12: with a readable key file any local user reads the cache
            raise Failed(f"cache opens with key from {where}: " + "; ".join(faults))
        try:
            self.store = self.ctx.open_cache()
        except PaperFallbackError as exc:
            raise Failed(f"cache opens with key from {where}: {exc}") from exc
        return f"cache opens with key from {where}"

    def _require_store(self) -> CacheStore:
        if self.store is None:
            raise Failed("skipped: the cache did not open")
        return self.store

    def snapshot(self) -> str:
        store = self._require_store()
        status = store.status(stale_minutes=self.ctx.settings.stale_minutes)
        if not status.has_snapshot:
            raise Failed("cache holds no snapshot: run 'cache refresh' or 'demo' first")
        counts = status.counts
        return (f"cache holds {counts.get('patients', 0)} patients on "
                f"{counts.get('wards', 0)} wards")

    def ward(self) -> str:
        """This PC's ward setting names a ward of the data (else the app opens on no ward
        and asks the nurse to choose: paperfallback.cache.wards)."""
        from paperfallback.cache.wards import home_ward, ward_label

        setting = self.ctx.settings.ward
        ward = home_ward(setting, self._require_store().wards())  # UnknownWard: FAIL
        if ward is None:
            return "ward setting empty: all wards"
        return f"ward setting {setting.strip()!r} is {ward_label(ward)}"

    def cache_age(self) -> str:
        store = self._require_store()
        limit = self.max_age_minutes or self.ctx.settings.stale_minutes
        status = store.status(stale_minutes=limit)
        if status.freshness is None:
            raise Failed("cache age unknown: no snapshot")
        if not status.freshness.known:
            raise Failed("cache age unknown: the extract carried no time of its own")
        age = compact_age(status.freshness.age)
        if status.freshness.is_stale:
            raise Failed(f"cache age {age} > {limit} min")
        return f"cache age {age} <= {limit} min"

    def forms(self) -> str:
        from paperfallback.resources import forms_dir

        self.catalogue = self.ctx.catalogue
        if not len(self.catalogue):
            raise Failed(f"no forms found in {forms_dir()}")
        if self.catalogue.problems:  # the others still print: IT must fix the site forms
            raise Failed(f"site forms left out: {'; '.join(self.catalogue.problems)}")
        site = len(self.ctx.settings.form_dirs)
        return (f"{len(self.catalogue)} forms load from {forms_dir()}"
                + (f" and {site} site folder(s) (form_dirs)" if site else ""))

    def pack(self) -> str:
        store = self._require_store()
        if self.catalogue is None:
            raise Failed("skipped: the forms did not load")
        return render_pack_check(store, self.ctx, self.catalogue)


_CHECK_NAMES = {
    "settings": "settings", "pc_code": "pc_code", "cache_opens": "cache opens",
    "snapshot": "cache holds a snapshot", "ward": "ward",
    "cache_age": "cache age", "forms": "forms load", "pack": "render a pack of every form",
}


def _check_name(check: Callable[[], str]) -> str:
    name = getattr(check, "__name__", "check")
    return _CHECK_NAMES.get(name, name.replace("_", " "))


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    test = SelfTest(ctx, args.max_age_minutes)
    ok = test.run(lambda result: print(result.line(), flush=True))
    failed = sum(not r.ok for r in test.results)
    log.info("self-test: %s", "all checks passed" if ok else f"{failed} check(s) FAILED")
    return 0 if ok else 1


def render_pack_check(store: CacheStore, ctx: AppContext, catalogue: Any) -> str:
    """Render every form: pre-filled from the cache where it has data for the form's scope
    (this PC's ward, its first patient, a clinic day, a theatre day), else blank. Each PDF is
    written to a private temporary folder, checked without a PDF library, and deleted."""
    from paperfallback.cache.refresh import private_temp_folder
    from paperfallback.register.store import MemoryAllocator
    from paperfallback.render import render_pack

    requests = _pack_requests(store, ctx, catalogue)
    allocator = MemoryAllocator(pc_code="ST")  # throwaway: never the PC's register
    pages = size = 0
    with private_temp_folder(ctx.data_dir, prefix="self-test-") as folder:
        for number, (label, request) in enumerate(requests, start=1):
            out = folder / f"self-test-{number}.pdf"
            try:
                result = render_pack(request, store, catalogue, ctx.settings, out=out,
                                     allocate_ids=allocator)
            except PaperFallbackError as exc:
                raise Failed(f"render {label}: {exc}") from exc
            if result.page_count <= 0:
                raise Failed(f"render {label}: the renderer reported no pages")
            try:
                check_pdf(out.read_bytes(), result.page_count)
            except Failed as exc:
                raise Failed(f"render {label}: {exc}") from exc
            pages += result.page_count
            size += out.stat().st_size
    prefilled = sum(1 for label, _ in requests if "blank" not in label)
    return (f"render a pack of every form: {len(catalogue)} forms, {pages} pages in "
            f"{len(requests)} PDFs ({prefilled} pre-filled), {size // 1024} KB; PDFs valid")


def _pack_requests(store: CacheStore, ctx: AppContext, catalogue: Any) -> list[tuple[str, Any]]:
    from paperfallback.cache.wards import UnknownWard, home_ward
    from paperfallback.render import PackRequest

    by_scope: dict[str, list[str]] = {}
    for spec in catalogue:
        by_scope.setdefault(str(spec.scope), []).append(spec.id)
    requests: list[tuple[str, Any]] = []
    blank: list[str] = list(by_scope.pop("blank", []))

    try:
        home = home_ward(ctx.settings.ward, store.wards())
    except UnknownWard:
        home = None  # the ward check has already failed: render from any ward
    ward_code = home.code if home else None
    rows = store.patients(ward_code=ward_code, limit=50)
    row = next((r for r in rows if r.stay is not None), rows[0] if rows else None)
    patient_forms = by_scope.pop("patient", [])
    if row is not None and patient_forms:
        ident = row.patient.nhs_number or row.patient.hospital_number or ""
        requests.append(("patient forms", PackRequest(patient_ids=(ident,),
                                                      forms=tuple(patient_forms))))
    else:
        blank += patient_forms
    ward_forms = by_scope.pop("ward", [])
    ward = ward_code or (row.stay.ward_code if row and row.stay else None)
    if ward and ward_forms:
        requests.append(("ward forms", PackRequest(ward=ward, forms=tuple(ward_forms))))
    else:
        blank += ward_forms
    clinic_forms = tuple(by_scope.pop("clinic-day", []))
    clinics = store.clinics()
    clinic_days = store.appointment_days(clinics[0]) if clinics else []
    if clinic_forms and clinic_days:
        requests.append(("clinic list", PackRequest(clinic=clinics[0], day=clinic_days[0],
                                                    forms=clinic_forms)))
    else:
        blank += clinic_forms
    theatre_forms = tuple(by_scope.pop("theatre-day", []))
    theatres = store.theatres()
    theatre_days = store.theatre_days(theatres[0]) if theatres else []
    if theatre_forms and theatre_days:
        requests.append(("theatre list", PackRequest(theatre=theatres[0], day=theatre_days[0],
                                                     forms=theatre_forms)))
    else:
        blank += theatre_forms
    for leftover in by_scope.values():
        blank += leftover
    requests += [(f"blank {form_id}", PackRequest(blank_form=form_id)) for form_id in blank]
    return requests
