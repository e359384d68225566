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
    wb.add_argument("--include-keyed", action="store_true",
                    help="also forms already keyed, verified or exported (default: only "
                         "forms still to key)")
    wb.set_defaults(func=_workbook)

    imp = entries_sub.add_parser("import", help="import a filled keying workbook")
    imp.add_argument("path", metavar="FILE", help="the filled .xlsx workbook")
    imp.add_argument("--clerk", metavar="NAME", help="who keyed it (default: the OS user)")
    imp.add_argument("--pass", dest="entry_pass", choices=("first", "second"), default="first",
                     help="second: the blind second keying of a double-entry form")
    imp.set_defaults(func=_import)

    confirm = entries_sub.add_parser(
        "confirm", help="confirm (or reject) the patient a blank form was matched to by name")
    confirm.add_argument("instance_id", metavar="FORM-ID", help="the form ID (or its QR text)")
    confirm.add_argument("--clerk", required=True, metavar="NAME",
                         help="who checked the paper against the patient's record")
    confirm.add_argument("--not-this-patient", action="store_true",
                         help="the proposed patient is someone else: record a new patient "
                              "under the form's downtime number")
    confirm.set_defaults(func=_confirm)

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
    from paperfallback.reentry.store import EntriesStore
    from paperfallback.register import Register, pc_code_for

    work = ctx.open_work()
    return Register(work, pc_code=pc_code_for(ctx.settings)), EntriesStore(work)


def _cache_or_none(ctx: AppContext) -> Any:
    """The cache when there is one (whose rows, blank-copy matching), else None; the
    context closes it."""
    from paperfallback.domain.errors import PaperFallbackError

    try:
        return ctx.open_cache()
    except PaperFallbackError:
        return None


def _ward_code(ctx: AppContext, text: str) -> str:
    """``--ward`` by the one rule (paperfallback.cache.wards): code or full name; without
    a cache, the code as typed (the register keeps ward codes)."""
    from paperfallback.cache.wards import match_ward

    cache = _cache_or_none(ctx)
    wards = cache.wards() if cache is not None else []
    return match_ward(text, wards).code if wards else text.strip()


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
            ward = _ward_code(ctx, args.ward)
            issued = [i for i in issued if i.ward_code.casefold() == ward.casefold()]
        if not issued:
            raise InputError(
                f"no printed {form.id!r} forms{' for ward ' + args.ward if args.ward else ''} "
                "in this PC's register: print them first", where="--form"
            )
        left_out = 0
        if not args.include_keyed:
            still = still_to_key(store, issued)
            left_out = len(issued) - len(still)
            issued = still
            if not issued:
                raise InputError(
                    f"every printed {form.id!r} form has been keyed already; add "
                    "--include-keyed to make a workbook with them anyway", where="--form")
        out = Path(args.out)
        if out.suffix.lower() != ".xlsx":
            raise InputError("the workbook must be an .xlsx file", where="--out")
        rows = build_workbook(form, issued, out, cache=_cache_or_none(ctx))
    finally:
        store.close()
    print(f"Wrote {out}: {len(issued)} form(s), {rows} row(s) to key."
          + (f" {left_out} form(s) already keyed were left out (--include-keyed adds them)."
             if left_out else ""))
    return 0


def still_to_key(store: Any, issued: list[Any]) -> list[Any]:
    """The forms not yet keyed: nothing keyed, or keying not finished (a double-entry
    form waiting for its second keying included). Keyed, verified and exported forms
    are left out so a workbook cannot overwrite them (issue #13 item 7)."""
    from paperfallback.reentry.model import InstanceStatus

    open_statuses = (InstanceStatus.PRINTED, InstanceStatus.DRAFT)
    out = []
    for item in issued:
        record = store.instance(item.instance_id)
        if record is None or record.status in open_statuses:
            out.append(item)
    return out


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
    for row in result.left_alone:
        print(f"Left alone: {row}")
    for instance_id, who in sorted(result.to_confirm.items()):
        print(f"To confirm: form {instance_id} matches {who} by name and date of birth only; "
              f"it is not exported until a clerk confirms it (paperfallback entries confirm "
              f"{instance_id} --clerk NAME, or --not-this-patient)")
    unchanged = (f", {result.rows_unchanged} of them unchanged since the last import"
                 if result.rows_unchanged else "")
    print(f"Imported {result.rows_imported} row(s) from {len(result.instances)} form(s) "
          f"({result.fields_changed} field(s) new or changed{unchanged}); "
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
        unconfirmed = _unconfirmed(store, _cache_or_none(ctx))
        sent = send_counts(store.work)  # export --to: sent / accepted / rejected
    finally:
        store.close()
    if args.json:
        data = add_send_counts(report.to_json(), sent)
        data["discrepancies"] = [_blind_json(d) for d in data["discrepancies"]]
        data["patients_to_confirm"] = unconfirmed
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
    if unconfirmed:
        print(f"Patients to confirm ({len(unconfirmed)}; not exported until confirmed):")
        for item in unconfirmed:
            print(f"  {item['instance_id']} ({item['form_id']}): matches "
                  f"{item['proposed_patient']} by name and date of birth only")
    if report.discrepancies:
        print(f"Open discrepancies ({len(report.discrepancies)}):")
        for d in report.discrepancies:
            print(f"  #{d.id} {d.address.instance_id} {d.address.section} "
                  f"{d.address.index + 1} {d.address.field_id}: {d.describe()}")
    return 0


def _unconfirmed(store: Any, cache: Any) -> list[dict[str, str]]:
    """Blank forms matched by name only, waiting for a clerk (for the data manager)."""
    from paperfallback.reentry.keying_service import describe_patient
    from paperfallback.reentry.patients import is_unconfirmed

    out = []
    for record in store.instances():
        if record.patient_id and is_unconfirmed(record.patient_match):
            who = record.patient_id
            if cache is not None:
                try:
                    who = describe_patient(cache.patient_record(record.patient_id).patient)
                except Exception:  # the cache no longer holds them: show the id
                    who = record.patient_id
            out.append({"instance_id": record.instance_id, "form_id": record.form_id,
                        "proposed_patient": who})
    return out


def _confirm(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.reentry.keying_service import KeyingService
    from paperfallback.reentry.patients import is_unconfirmed
    from paperfallback.register import validate_instance_id
    from paperfallback.render.qr import parse_qr_payload

    register, store = _stores(ctx)
    try:
        instance_id = validate_instance_id(parse_qr_payload(args.instance_id)[0])
        record = store.instance(instance_id)
        issued = register.get(instance_id)
        if record is None or issued is None or not is_unconfirmed(record.patient_match):
            from paperfallback.domain.errors import InputError

            raise InputError(f"form {instance_id} has no patient match waiting to be "
                             "confirmed", where="FORM-ID")
        service = KeyingService(store, register, ctx.catalogue,
                                window_hours=ctx.settings.entry_window_hours,
                                double_entry_forms=double_entry_forms(ctx),
                                open_cache=lambda: _cache_or_none(ctx))
        message = service.confirm_patient(issued, args.clerk.strip(),
                                          same=not args.not_this_patient)
    finally:
        store.close()
    print(message)
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
    from paperfallback.reentry.keying_service import KeyingService
    from paperfallback.reentry.model import DiscrepancyKind, EntryPass

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
        issued = register.get(address.instance_id)
        if store.instance(address.instance_id) is None or issued is None:
            raise InputError(f"form {address.instance_id} is not in this PC's register")
        service = KeyingService(store, register, ctx.catalogue,
                                window_hours=ctx.settings.entry_window_hours,
                                double_entry_forms=double_entry_forms(ctx))
        try:
            opened = service.open(issued, resolver, EntryPass.RESOLVED)
        except InputError as exc:
            raise InputError(str(exc), where="--resolver") from None
        outcome = opened.enter(address.section, address.index, address.field_id, args.value)
        record = store.instance(address.instance_id)
        status = record.status if record is not None else None
    finally:
        store.close()
    print(f"Resolved #{args.number} from the paper; form {address.instance_id} is "
          f"{status.value if status else outcome.notice}.")
    return 0
