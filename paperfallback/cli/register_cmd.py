"""``paperfallback register list [--json]``: the form instances this PC has issued."""

from __future__ import annotations

import argparse
import json
from typing import Any

from paperfallback.cli.context import AppContext


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("register", help="list the form instances this PC has issued")
    reg_sub = parser.add_subparsers(dest="register_command", metavar="ACTION", required=True)
    listing = reg_sub.add_parser("list", help="issued forms, oldest first")
    listing.add_argument("--form", metavar="FORM", help="only this form id")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=_list)
    show = reg_sub.add_parser("show", help="one issued form by its form ID")
    show.add_argument("instance_id", metavar="FORM-ID",
                      help="as printed or as scanned from its QR code (K7-0042Q-X/2)")
    show.set_defaults(func=_show)


def _open(ctx: AppContext) -> Any:
    from paperfallback.register import Register

    key, source = ctx.key
    return Register.open(ctx.data_dir, key, ctx.settings, key_source=source)


def _list(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.cache.staleness import format_uk

    with _open(ctx) as register:
        items = register.list(form_id=args.form)
    if args.json:
        print(json.dumps([i.to_json() for i in items], ensure_ascii=False, indent=2))
        return 0
    for i in items:
        who = i.patient_name or i.ward_code or i.clinic or i.theatre or i.downtime_number or ""
        print(f"{i.instance_id:<14} {i.form_id:<22} v{i.form_version:<5} {who:<36.36} "
              f"{i.page_count:>3} p  {format_uk(i.printed_at)}  {i.pc_id}")
    print(f"{len(items)} issued form{'s' if len(items) != 1 else ''}")
    return 0


def _show(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.render.qr import parse_qr_payload

    instance_id, _page = parse_qr_payload(args.instance_id)
    with _open(ctx) as register:
        issued = register.require(instance_id)
    print(json.dumps(issued.to_json(), ensure_ascii=False, indent=2))
    return 0
