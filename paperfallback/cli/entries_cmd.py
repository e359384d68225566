"""``paperfallback entries workbook|import|status``: key paper back in from spreadsheets
and see what has come back.

Exit codes: ``import`` exits 1 when any cell had a problem (the valid rows are still
imported), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from paperfallback.cli.context import AppContext


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("entries", help="keying workbooks, import and reconciliation")
    entries_sub = parser.add_subparsers(dest="entries_command", metavar="ACTION", required=True)

    wb = entries_sub.add_parser("workbook", help="make an xlsx workbook to key a form's copies")
    wb.add_argument("--form", required=True, metavar="F", help="form id, e.g. news2")
    wb.add_argument("--ward", metavar="W", help="only copies printed for this ward")
    wb.add_argument("--out", required=True, metavar="FILE", help="the .xlsx file to write")
    wb.set_defaults(func=_workbook)

    imp = entries_sub.add_parser("import", help="import a filled keying workbook")
    imp.add_argument("path", metavar="FILE", help="the filled .xlsx workbook")
    imp.add_argument("--clerk", metavar="NAME", help="who keyed it (default: the OS user)")
    imp.add_argument("--pass", dest="entry_pass", choices=("first", "second"), default="first",
                     help="second: the blind second keying of a double-entry form")
    imp.set_defaults(func=_import)

    status = entries_sub.add_parser("status", help="printed / keyed / verified / exported")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)


def _stores(ctx: AppContext) -> tuple[Any, Any]:
    from paperfallback.cache.work_db import open_work_db
    from paperfallback.reentry.store import EntriesStore
    from paperfallback.register import Register, pc_code_for

    key, source = ctx.key
    conn = open_work_db(ctx.data_dir, key, key_source=source)
    return Register(conn, pc_code=pc_code_for(ctx.settings)), EntriesStore(conn)


def _cache_or_none(ctx: AppContext) -> Any:
    """The cache when there is one (whose rows, blank-copy matching), else None; the
    context closes it."""
    from paperfallback.domain.errors import PaperFallbackError

    try:
        return ctx.open_cache()
    except PaperFallbackError:
        return None


def double_entry_forms(ctx: AppContext) -> list[str]:
    return list(ctx.settings.double_entry_forms)


def _workbook(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.domain.errors import InputError
    from paperfallback.formspec import load_catalogue
    from paperfallback.reentry.workbook import build_workbook

    form = load_catalogue().get(args.form)
    register, store = _stores(ctx)
    try:
        issued = register.list(form_id=form.id)
        if args.ward:
            ward = args.ward.strip().casefold()
            issued = [i for i in issued if i.ward_code.casefold() == ward]
        if not issued:
            raise InputError(
                f"no printed {form.id!r} forms{' for ward ' + args.ward if args.ward else ''} "
                "in this PC's register: print them first", where="--form"
            )
        out = Path(args.out)
        if out.suffix.lower() != ".xlsx":
            raise InputError("the workbook must be an .xlsx file", where="--out")
        rows = build_workbook(form, issued, out, cache=_cache_or_none(ctx))
    finally:
        store.close()
    print(f"Wrote {out}: {len(issued)} form(s), {rows} row(s) to key.")
    return 0


def _import(ctx: AppContext, args: argparse.Namespace) -> int:
    import getpass

    from paperfallback.formspec import load_catalogue
    from paperfallback.reentry.model import EntryPass
    from paperfallback.reentry.workbook_import import import_workbook

    clerk = args.clerk or getpass.getuser()
    register, store = _stores(ctx)
    cache = _cache_or_none(ctx)
    try:
        result = import_workbook(
            Path(args.path), catalogue=load_catalogue(), lookup=register.get, store=store,
            clerk=clerk, entry_pass=EntryPass(args.entry_pass),
            window_hours=ctx.settings.entry_window_hours,
            double_entry_forms=double_entry_forms(ctx), cache=cache,
        )
        keyed_discrepancies = [
            d for d in store.discrepancies() if d.address.instance_id in result.instances
        ]
    finally:
        store.close()
    for problem in result.problems:
        print(f"Problem: {problem}", file=sys.stderr)
    print(f"Imported {result.rows_imported} row(s) from {len(result.instances)} form(s) "
          f"({result.fields_changed} field(s) new or changed); "
          f"{result.rows_skipped} row(s) with problems not imported.")
    for d in keyed_discrepancies:
        print(f"Discrepancy {d.address.instance_id} {d.address.section} "
              f"column {d.address.index + 1}: {d.describe()}")
    return 0 if result.ok else 1


def _status(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.reentry.reconciliation import reconcile

    register, store = _stores(ctx)
    try:
        report = reconcile(register.list(), store, double_entry_forms=double_entry_forms(ctx))
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return 0
    backlog = report.backlog()
    counts = report.counts()
    print(f"Forms: {backlog['total']}; keyed or beyond: {backlog['done']} "
          f"({backlog['done_share']:.0%}); still to key: {backlog['to_key']}")
    print("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for group in report.by_ward_and_form():
        print(f"  {group['ward'] or '-':<12} {group['form_id']:<22} "
              + " ".join(f"{s} {group[s]}" for s in counts))
    missing = report.not_returned()
    if missing:
        print(f"Not come back yet ({len(missing)}): "
              + ", ".join(line.instance_id for line in missing[:50])
              + (" ..." if len(missing) > 50 else ""))
    if report.discrepancies:
        print(f"Open discrepancies ({len(report.discrepancies)}):")
        for d in report.discrepancies:
            print(f"  #{d.id} {d.address.instance_id} {d.address.section} "
                  f"{d.address.index + 1} {d.address.field_id}: {d.describe()}")
    return 0
