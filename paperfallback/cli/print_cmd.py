"""``paperfallback print``: render a pack to PDF and record its forms in the register.

    paperfallback print --ward W [--forms news2,mar,...] --out pack.pdf
    paperfallback print --patient ID [ID ...] [--forms ...] --out pack.pdf
    paperfallback print --clinic C --date D --out clinic.pdf
    paperfallback print --theatre T --date D --out theatre.pdf
    paperfallback print --blank FORM --count N --out blank.pdf

The CLI saves the PDF itself, so it records the issued instances at once (the desktop
app records them only after the user prints or saves the preview).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from paperfallback.cli.context import AppContext
from paperfallback.domain.errors import InputError
from paperfallback.gc_policy import gc_paused, settle_imports


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("print", help="print a ward, patient, clinic, theatre or blank pack")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--ward", metavar="W", help="ward name or code: the whole ward, bed order")
    what.add_argument("--patient", nargs="+", metavar="ID", help="NHS or hospital numbers")
    what.add_argument("--clinic", metavar="C", help="an outpatient clinic (with --date)")
    what.add_argument("--theatre", metavar="T", help="a theatre list (with --date)")
    what.add_argument("--blank", metavar="FORM", help="blank forms of this form id")
    parser.add_argument("--date", metavar="D", help="list date: 2026-11-24, 24-Nov-2026, today")
    parser.add_argument("--count", type=bounded_int(1, MAX_BLANK), default=1,
                        help=f"blank forms: how many (default 1, at most {MAX_BLANK})")
    parser.add_argument("--forms", metavar="F,F", help="comma-separated form ids "
                        "(default: the ward's set from settings)")
    parser.add_argument("--copies", type=bounded_int(1, MAX_COPIES), default=1,
                        help=f"copies, each with its own form ID (at most {MAX_COPIES})")
    parser.add_argument("--no-cover", action="store_true", help="ward packs: no cover sheet")
    parser.add_argument("--out", required=True, metavar="PDF", help="where to save the PDF")
    parser.add_argument("--parts", action="store_true",
                        help="save the pack as complete PDFs PDF-NAME.partNN.pdf instead, each "
                        "as soon as it is drawn (the cover sheet and handover list, then whole "
                        "patients about 24 pages at a time), naming each on its own line "
                        "when it is written: a printer can start on the first while the "
                        "rest is drawn")
    parser.add_argument("--forms-dir", metavar="DIR", action="append", default=[],
                        help="an extra folder of form definitions (site forms)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run, parser=parser)


MAX_BLANK = 500  # a ward's outage supply; a typo of 100000 would be 200,000 pages
MAX_COPIES = 20


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (else a usage error, exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value

    return parse


def parse_day(text: str | None) -> date | None:
    """A list date as staff type it: ISO, dd-Mmm-yyyy, dd/mm/yyyy or 'today'."""
    if text is None:
        return None
    value = text.strip()
    if value.casefold() == "today":
        from paperfallback.cache.staleness import uk_time, utc_now

        return uk_time(utc_now()).date()
    for pattern in ("%Y-%m-%d", "%d-%b-%Y", "%d/%m/%Y", "%d %b %Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise InputError(f"{text!r} is not a date (use 2026-11-24 or 24-Nov-2026)", where="--date")


def _part_writer(out: Path, names: list[str], *,
                 announce: bool) -> Callable[[bytes, int], None]:
    """Save each part beside ``out`` as it comes (atomically: a name printed is a whole
    PDF), and name it on stdout at once for a spooler reading the lines."""

    def write(pdf: bytes, _pages: int) -> None:
        path = out.with_name(f"{out.stem}.part{len(names) + 1:02d}.pdf")
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(pdf)
        os.replace(tmp, path)
        names.append(str(path))
        if announced:
            try:
                print(path, flush=True)
            except BrokenPipeError:  # the reader went away: the pack is still finished
                announced.clear()
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the run

    announced = [True] if announce else []
    return write


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    if not args.blank:
        ctx.derive_key_ahead()  # on a thread, while the imports below run
    with gc_paused():  # modules and the parsed forms: never garbage (gc_policy)
        from paperfallback.formspec import site_catalogue
        from paperfallback.reentry.observations import KeyedObservations
        from paperfallback.register.reservation import form_ids_or_reserve
        from paperfallback.render import PackRequest, render_pack

        catalogue = ctx.catalogue if not args.forms_dir else site_catalogue(
            ctx.settings.form_dirs, ctx.data_dir, *(Path(p) for p in args.forms_dir))
    settle_imports()

    forms = tuple(f for f in re.split(r"[,\s]+", args.forms or "") if f)
    if (args.clinic or args.theatre) and not args.date:
        args.parser.error("--clinic and --theatre need --date D")  # usage error: exit 2
    request = PackRequest(
        ward=args.ward,
        patient_ids=tuple(args.patient or ()),
        clinic=args.clinic,
        theatre=args.theatre,
        day=parse_day(args.date),
        blank_form=args.blank,
        count=args.count,
        forms=forms,
        copies=args.copies,
        cover_sheet=False if args.no_cover else None,
    )
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise InputError("the folder to save the PDF in does not exist", where=str(out.parent))
    part_files: list[str] = []
    sink = _part_writer(out, part_files, announce=not args.json) if args.parts else None
    try:
        if args.blank:
            # Blank forms need no key, no cache and no writable work store (issue #12).
            allocator = form_ids_or_reserve(ctx.data_dir, lambda: ctx.key, ctx.settings)
            try:
                result = render_pack(request, None, catalogue, ctx.settings, out=out,
                                     allocate_ids=allocator, parts=sink)
                allocator.record(result.issued)
            finally:
                allocator.close()
            if allocator.problem:
                print(f"Note: {allocator.problem}", file=sys.stderr)
        else:
            # Pre-filled forms need a readable cache; an unusable work store only moves their
            # IDs to the reserve (and leaves keyed-from-paper observations off the charts).
            store = ctx.open_cache()
            allocator = form_ids_or_reserve(ctx.data_dir, lambda: ctx.key, ctx.settings)
            try:
                keyed = (KeyedObservations(allocator.register.work, catalogue) if allocator.register
                         else None)
                result = render_pack(request, store, catalogue, ctx.settings, out=out,
                                     allocate_ids=allocator, keyed=keyed, parts=sink)
                allocator.record(result.issued)
            finally:
                allocator.close()
            if allocator.problem:
                missing = "" if keyed else " Observations keyed from paper are not on these pages."
                print(f"Note: {allocator.problem}{missing}", file=sys.stderr)
    except BaseException:
        for name in part_files:  # a pack that failed is not printed in part: its forms
            Path(name).unlink(missing_ok=True)  # are not in the register
        raise
    ids = [i.instance_id for i in result.issued]
    stale = any(i.stale for i in result.issued)
    if args.json:
        print(json.dumps({
            "out": str(out), "pages": result.page_count, "bytes": result.size_bytes,
            "stale": stale, "forms": [i.to_json() for i in result.issued],
            **({"parts": part_files} if args.parts else {}),
        }, ensure_ascii=False, indent=2))
        return 0
    saved = f"{len(part_files)} parts {out.stem}.partNN.pdf" if args.parts else str(out)
    print(f"Saved {saved}: {result.page_count} pages, {len(ids)} forms "
          f"({ids[0]} to {ids[-1]})." if ids else f"Saved {saved}: nothing to print.")
    as_of = next((i.data_as_of for i in result.issued if i.data_as_of), None)
    if as_of is not None:
        from paperfallback.cache.staleness import format_uk

        print(f"Data as of {format_uk(as_of)}" + (" — STALE DATA: every page is marked."
                                                   if stale else "."))
    elif stale:
        print("Data as of: not known — STALE DATA: every page is marked.")
    return 0
