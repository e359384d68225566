"""``paperfallback scans import PATH... [--json]`` and ``scans status [--ward W] [--json]``.

Exit codes of ``scans import``: 0 even when some pages are unreadable (they wait in the
queue), 1 only when a file cannot be read at all (the other files are still taken).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from paperfallback.cli.context import AppContext


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("scans", help="scanned returned paper: identify, store, status")
    scans_sub = parser.add_subparsers(dest="scans_command", metavar="ACTION", required=True)
    take = scans_sub.add_parser(
        "import", help="identify scanned pages by their QR and store them (PDF, TIFF, PNG, "
        "JPEG or a folder of those)")
    take.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    take.add_argument("--json", action="store_true", help="print the report as JSON")
    take.set_defaults(func=_import)
    status = scans_sub.add_parser("status", help="per issued form: pages returned and missing")
    status.add_argument("--ward", metavar="W", help="only forms printed for this ward code")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)
    queue = scans_sub.add_parser(
        "queue", help="pages waiting for a person: unreadable code, or not in this register")
    queue.add_argument("--json", action="store_true", help="print JSON")
    queue.set_defaults(func=_queue)
    assign = scans_sub.add_parser(
        "assign", help="attach a queued page to the form ID and page read off its image")
    assign.add_argument("page_id", type=int, metavar="PAGE", help="the page number in the queue")
    assign.add_argument("form_page", metavar="FORM-ID/PAGE", help="e.g. Q76-00003-M/2")
    assign.set_defaults(func=_assign)
    check = scans_sub.add_parser(
        "check", help="compare the marks on scanned pages (NEWS2 band rows, tick boxes) with "
        "what was keyed; disagreements become discrepancies")
    check.add_argument("form_ids", nargs="*", metavar="FORM-ID",
                       help="only these forms (default: every keyed form with scanned pages)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=_check)


def _open(ctx: AppContext) -> tuple[Any, Any]:
    from paperfallback.register import Register
    from paperfallback.scan.store import ScanStore

    key, source = ctx.key
    register = Register.open(ctx.data_dir, key, ctx.settings, key_source=source)
    store = ScanStore(register.work)
    _apply_retention(ctx, register, store)
    return register, store


def _apply_retention(ctx: AppContext, register: Any, store: Any) -> None:
    """Images of exported forms older than ``scan_retention_days`` are removed (the
    returned-page record stays): page images are patient data, kept no longer than needed."""
    from datetime import UTC, datetime, timedelta

    from paperfallback.reentry.model import InstanceStatus
    from paperfallback.reentry.store import EntriesStore

    days = ctx.settings.scan_retention_days
    if days <= 0:
        return
    exported = {i.instance_id for i in EntriesStore(register.work).instances()
                if i.status is InstanceStatus.EXPORTED}
    if exported:
        store.purge(exported, older_than=datetime.now(UTC) - timedelta(days=days))


def _import(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.scan.intake import import_scans

    register, store = _open(ctx)
    with register:
        report = import_scans(args.paths, register, store)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for page in report.pages:
            where = f"{page.form_id}/{page.page}" if page.form_id else "-"
            note = " (blank page)" if page.blank else ""
            print(f"{page.source} p{page.index}: {page.status} {where}{note}")
        print(f"{len(report.pages)} pages: {report.count('identified')} identified, "
              f"{report.count('duplicate')} duplicate, {report.count('unreadable')} unreadable, "
              f"{report.count('not-in-register')} not in this PC's register")
    for problem in report.unreadable_files:
        print(f"paperfallback: error: {problem}", file=sys.stderr)
    return 1 if report.unreadable_files else 0


def _status(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.scan.intake import scan_status

    register, store = _open(ctx)
    with register:
        status = scan_status(register, store, ward=args.ward)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    for form in status["forms"]:
        missing = ", ".join(map(str, form["missing"])) or "none"
        print(f"{form['form_id']:<14} {form['form']:<22} {(form['patient'] or ''):<36.36} "
              f"{len(form['returned'])}/{form['pages']} pages back; missing: {missing}")
    print(f"{status['complete']} complete, {status['partial']} partial, "
          f"{status['not_returned']} not returned")
    return 0


def _check(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.reentry.choice_check import check_choice_marks
    from paperfallback.reentry.mark_check import check_marks
    from paperfallback.reentry.store import EntriesStore
    from paperfallback.render.qr import parse_qr_payload

    register, store = _open(ctx)
    catalogue = ctx.catalogue
    with register:
        entries = EntriesStore(register.work)
        wanted = [parse_qr_payload(f)[0] for f in args.form_ids] or sorted(
            set(entries.keyed_instance_ids()) & set(store.returned_pages()))
        results: list[dict[str, Any]] = []
        for form_id in wanted:
            issued = register.require(form_id)
            report = check_marks(issued, catalogue, store, entries)
            ticks = check_choice_marks(issued, catalogue, store, entries)
            results.append({"form_id": form_id, "columns_checked": report.columns_checked,
                            "pages_unregistered": report.pages_unregistered,
                            "findings": [f.to_json() for f in report.findings],
                            # tick boxes of choice / tickbox fields (issue #16 item 4)
                            "tick_fields_read": ticks.fields_read,
                            "tick_pages_unregistered": ticks.pages_unregistered,
                            "tick_findings": [f.to_json() for f in ticks.findings],
                            "tick_unclear": [{"place": place, **mark.to_json()}
                                             for place, mark in ticks.unclear]})
    band = sum(len(r["findings"]) for r in results)
    tick = sum(len(r["tick_findings"]) for r in results)
    if args.json:
        print(json.dumps({"forms": results, "findings": band, "tick_findings": tick,
                          "discrepancies_raised": band + tick},
                         ensure_ascii=False, indent=2))
        return 0
    for result in results:
        note = (f"; pages {result['pages_unregistered']} could not be lined up"
                if result["pages_unregistered"] else "")
        if result["tick_pages_unregistered"]:
            note += (f"; tick boxes on pages {result['tick_pages_unregistered']} could not "
                     "be read")
        print(f"{result['form_id']}: {result['columns_checked']} keyed columns and "
              f"{result['tick_fields_read']} tick-box fields checked against the marks{note}")
        for finding in result["findings"] + result["tick_findings"]:
            print(f"  {finding['message']} (page {finding['page']})")
        for unclear in result["tick_unclear"]:
            print(f"  {unclear['place']}: {unclear['note']} (page {unclear['page']})")
    print(f"{band + tick} disagreement(s) raised as discrepancies")
    return 0


def _queue(ctx: AppContext, args: argparse.Namespace) -> int:
    register, store = _open(ctx)
    with register:
        waiting = store.queued()
    if args.json:
        print(json.dumps({"queue": [{"page": p.id, "status": p.status, "source": p.source,
                                     "index": p.source_index, "form_id": p.form_id,
                                     "imported_at": p.imported_at.isoformat()}
                                    for p in waiting]}, indent=2))
        return 0
    for p in waiting:
        code = f" (code {p.form_id}/{p.page})" if p.form_id else ""
        print(f"{p.id:>5}  {p.status:<16} {p.source} p{p.source_index}{code}")
    print(f"{len(waiting)} page(s) waiting; open them in the app (Re-enter forms, Scanned "
          "pages) to read the form ID off the image, or `scans assign PAGE FORM-ID/PAGE`")
    return 0


def _assign(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.scan.intake import assign_page

    register, store = _open(ctx)
    with register:
        where = assign_page(args.page_id, args.form_page, register, store)
    print(f"Scanned page {args.page_id} attached to {where}.")
    return 0
