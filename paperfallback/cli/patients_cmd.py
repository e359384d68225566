"""``paperfallback patients [--ward W] [--search TEXT] [--json]``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from paperfallback.cache.store import reject_bad_check_digit
from paperfallback.cli.context import AppContext
from paperfallback.domain.nhs_number import format_nhs_number


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("patients", help="list or search cached patients")
    parser.add_argument("--ward", metavar="W", help="ward name or code")
    parser.add_argument("--search", metavar="TEXT", help="name prefix, NHS or hospital number")
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.set_defaults(func=_run)


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    store = ctx.open_cache()
    store.require_snapshot()
    ward_code = store.resolve_ward(args.ward).code if args.ward else None
    rows = store.patients(ward_code=ward_code, search=args.search)
    if not rows and args.search:
        reject_bad_check_digit(args.search, where="--search")
    wards = {w.code: w for w in store.wards()}
    if args.json:
        out = []
        for row in rows:
            p, stay = row.patient, row.stay
            out.append({
                "id": p.id,
                "nhs_number": p.nhs_number,
                "hospital_number": p.hospital_number,
                "family": p.family,
                "given": p.given,
                "birth_date": p.birth_date.isoformat() if p.birth_date else None,
                "sex": p.sex.value,
                "ward": wards[stay.ward_code].name if stay and stay.ward_code in wards else None,
                "ward_code": stay.ward_code if stay else None,
                "bed": stay.bed if stay else None,
                "deceased": p.deceased,
                "deceased_date": p.deceased_date.isoformat() if p.deceased_date else None,
            })
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        p, stay = row.patient, row.stay
        where = f"{stay.ward_code} {stay.bed}" if stay else ("DECEASED" if p.deceased else "-")
        dob = p.birth_date.strftime("%d-%b-%Y") if p.birth_date else "DOB not recorded"
        nhs = format_nhs_number(p.nhs_number) or "NHS no. not recorded"
        print(f"{where:<14} {p.display_name:<36} {nhs:<14} {p.hospital_number or '':<12} {dob}")
    print(f"{len(rows)} patient{'s' if len(rows) != 1 else ''}")
    return 0
