"""``paperfallback report recovery --out FILE [--ward W] [--from T] [--to T] [--json]``.

The governance file's recovery report: forms printed, pages returned, keyed, verified and
exported, and what is still missing, by patient (issue #16 item 6).
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from paperfallback.cli.context import AppContext
from paperfallback.domain.errors import InputError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("report", help="printable reports for the governance file")
    report_sub = parser.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    recovery = report_sub.add_parser(
        "recovery", help="a ward's paper after an outage: printed, returned, keyed, exported, "
        "missing, by patient (PDF)")
    recovery.add_argument("--out", type=Path, required=True, metavar="FILE", help="PDF to write")
    recovery.add_argument("--ward", default="", metavar="W", help="ward code (default: all)")
    recovery.add_argument("--from", dest="start", metavar="ISO-8601",
                          help="outage start: forms printed from then")
    recovery.add_argument("--to", dest="end", metavar="ISO-8601",
                          help="outage end: forms printed until then")
    recovery.add_argument("--json", action="store_true", help="also print the totals as JSON")
    recovery.set_defaults(func=_recovery)


def _when(text: str | None, flag: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{flag} {text!r}: not an ISO 8601 date and time") from exc
    if moment.tzinfo is None:
        from paperfallback.cache.staleness import UK

        moment = moment.replace(tzinfo=UK)
    return moment


def _recovery(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.export.send_state import send_counts
    from paperfallback.reentry.recovery_report import build_report, write_report_pdf
    from paperfallback.reentry.store import EntriesStore
    from paperfallback.register import Register
    from paperfallback.scan.store import ScanStore

    start, end = _when(args.start, "--from"), _when(args.end, "--to")
    key, source = ctx.key
    with Register.open(ctx.data_dir, key, ctx.settings, key_source=source) as register:
        sent = {instance: (counts["accepted"], counts["rejected"])
                for (instance, _form), counts in send_counts(register.work).items()}
        report = build_report(register.list(), ScanStore(register.work).returned_pages(),
                              EntriesStore(register.work).instances(), ward=args.ward,
                              start=start, end=end, sent=sent)
    write_report_pdf(report, args.out)
    totals = report.totals()
    if args.json:
        keys = {k: re.sub(r"[^a-z0-9]+", "_", k.lower()).strip("_") for k in totals}
        print(json.dumps({"out": str(args.out), **{keys[k]: v for k, v in totals.items()}},
                         indent=2))
    else:
        print(f"Saved {args.out}: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    return 0
