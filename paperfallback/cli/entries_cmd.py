"""``paperfallback entries workbook|import|status|differences|resolve``: key paper back
in from spreadsheets, see what has come back, and settle double-entry differences.

Double entry is blind (hazard R-ENT-6): ``import`` and ``status`` say how many fields of a
form differ between the two keyings, never the values; only ``differences`` shows them,
and only to a resolver who keyed neither pass. ``resolve`` saves the value that third
person reads from the paper.

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

BLIND_NOTE = ("a third person will resolve them against the paper "
              "(paperfallback entries differences --resolver NAME)")


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

    diff = entries_sub.add_parser(
        "differences", help="double-entry differences with both keyings, for the resolver")
    diff.add_argument("--resolver", required=True, metavar="NAME",
                      help="the third person who will check them against the paper")
    diff.add_argument("--json", action="store_true", help="print JSON")
    diff.set_defaults(func=_differences)

    res = entries_sub.add_parser(
        "resolve", help="key the value of a double-entry difference from the paper")
    res.add_argument("number", type=int, metavar="N", help="the difference number (#N)")
    res.add_argument("value", metavar="VALUE",
                     help="what the paper says (? illegible, - not recorded)")
    res.add_argument("--resolver", required=True, metavar="NAME",
                     help="who read it from the paper (not either keying clerk)")
    res.set_defaults(func=_resolve)


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
    from paperfallback.reentry.workbook import build_workbook

    form = ctx.catalogue.get(args.form)
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

    from paperfallback.reentry.model import DiscrepancyKind, EntryPass
    from paperfallback.reentry.workbook_import import import_workbook

    clerk = args.clerk or getpass.getuser()
    register, store = _stores(ctx)
    cache = _cache_or_none(ctx)
    try:
        result = import_workbook(
            Path(args.path), catalogue=ctx.catalogue, lookup=register.get, store=store,
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
    differing: dict[str, int] = {}
    for d in keyed_discrepancies:
        if d.kind is DiscrepancyKind.DOUBLE_ENTRY:  # blind: a count, never the values
            differing[d.address.instance_id] = differing.get(d.address.instance_id, 0) + 1
            continue
        if args.entry_pass == "second":
            continue  # other discrepancies come from the first keying's values
        print(f"Discrepancy {d.address.instance_id} {d.address.section} "
              f"column {d.address.index + 1}: {d.describe()}")
    for instance_id, count in sorted(differing.items()):
        print(f"Form {instance_id}: {count} field(s) differ from the first keying; {BLIND_NOTE}")
    return 0 if result.ok else 1


def _status(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.export.send_state import add_send_counts, send_counts
    from paperfallback.reentry.reconciliation import reconcile

    register, store = _stores(ctx)
    try:
        report = reconcile(register.list(), store, double_entry_forms=double_entry_forms(ctx))
        sent = send_counts(store.connection)  # export --to: sent / accepted / rejected
    finally:
        store.close()
    if args.json:
        data = add_send_counts(report.to_json(), sent)
        data["discrepancies"] = [_blind_json(d) for d in data["discrepancies"]]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    backlog = report.backlog()
    counts = report.counts()
    print(f"Forms: {backlog['total']}; keyed or beyond: {backlog['done']} "
          f"({backlog['done_share']:.0%}); still to key: {backlog['to_key']}")
    print("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if sent:  # export --to
        total = add_send_counts({}, sent)["sending"]["total"]
        print("Sent to the EPR: " + ", ".join(f"{k} {v}" for k, v in total.items()))
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


def _blind_json(item: dict[str, Any]) -> dict[str, Any]:
    from paperfallback.reentry.model import DiscrepancyKind

    if item.get("kind") != DiscrepancyKind.DOUBLE_ENTRY.value:
        return item
    return {**item, "detail": {}, "description": f"the two keyings differ; {BLIND_NOTE}"}


def _differences(ctx: AppContext, args: argparse.Namespace) -> int:
    """The resolver's view: both keyings of every open difference, for forms the resolver
    keyed neither pass of (a keying clerk sees only that another person must resolve)."""
    from paperfallback.reentry.model import DiscrepancyKind
    from paperfallback.reentry.workflow import open_differences

    resolver = args.resolver.strip().casefold()
    _register, store = _stores(ctx)
    shown: list[dict[str, Any]] = []
    withheld: set[str] = set()
    try:
        by_address = {
            d.address: d for d in store.discrepancies(open_only=False)
            if d.kind is DiscrepancyKind.DOUBLE_ENTRY
        }
        for record in store.instances():
            addresses = open_differences(store, record.instance_id)
            if not addresses:
                continue
            if resolver in (record.first_clerk.casefold(), record.second_clerk.casefold()):
                withheld.add(record.instance_id)
                continue
            for address in addresses:
                d = by_address[address]
                shown.append({
                    "id": d.id, "instance_id": address.instance_id, "section": address.section,
                    "index": address.index, "field_id": address.field_id,
                    "first": d.detail.get("first", ""), "second": d.detail.get("second", ""),
                    "first_clerk": record.first_clerk, "second_clerk": record.second_clerk,
                })
    finally:
        store.close()
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0
    for item in shown:
        print(f"  #{item['id']} {item['instance_id']} {item['section']} {item['index'] + 1} "
              f"{item['field_id']}: first {item['first']!r} ({item['first_clerk']}), "
              f"second {item['second']!r} ({item['second_clerk']})")
    for instance_id in sorted(withheld):
        print(f"  {instance_id}: you keyed this form; another person must resolve its "
              "differences from the paper")
    if not shown and not withheld:
        print("No double-entry differences to resolve.")
    elif shown:
        print("Read each value from the paper (not from the two keyings) and key it: "
              "paperfallback entries resolve N VALUE --resolver NAME")
    return 0


def _resolve(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.domain.errors import InputError
    from paperfallback.reentry.model import DiscrepancyKind, EntryPass, EntryState
    from paperfallback.reentry.printed import issued_layout
    from paperfallback.reentry.session import KeyingSession
    from paperfallback.reentry.validation import KeyingContext, entry_state_of
    from paperfallback.reentry.workflow import resolve

    resolver = args.resolver.strip()
    if not resolver:
        raise InputError("name the person resolving from the paper", where="--resolver")
    register, store = _stores(ctx)
    try:
        found = [d for d in store.discrepancies(open_only=False) if d.id == args.number
                 and d.kind is DiscrepancyKind.DOUBLE_ENTRY]
        if not found:
            raise InputError(f"no double-entry difference number {args.number}")
        address = found[0].address
        record = store.instance(address.instance_id)
        issued = register.get(address.instance_id)
        if record is None or issued is None:
            raise InputError(f"form {address.instance_id} is not in this PC's register")
        if resolver.casefold() in (record.first_clerk.casefold(),
                                   record.second_clerk.casefold()):
            raise InputError(f"{resolver} keyed this form: a third person must resolve the "
                             "differences from the paper", where="--resolver")
        form = ctx.catalogue.get(issued.form_id)
        session = KeyingSession(
            store, issued_layout(form, issued), issued, clerk=resolver,
            entry_pass=EntryPass.RESOLVED,
            ctx=KeyingContext(printed_at=issued.printed_at,
                              window_hours=ctx.settings.entry_window_hours),
        )
        state = entry_state_of(args.value)
        value = None
        if state is None:
            value = session.check(address.section, address.index, address.field_id,
                                  args.value).canonical
            state = EntryState.VALUE
        status = resolve(store, address, value, state, by=resolver, form_id=form.id)
    finally:
        store.close()
    print(f"Resolved #{args.number} from the paper; form {address.instance_id} is "
          f"{status.value}.")
    return 0
