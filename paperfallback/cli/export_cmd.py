"""``paperfallback export --format fhir|xlsx|csv [--all] --out bundle.json|DIR``
and ``paperfallback export --to URL [--dry-run] [--retry-rejected] [--all]``

Exports what was keyed back from paper for the EPR's bulk re-import (docs/export.md).
Only entries that are new or changed since the last export of that format go out,
unless ``--all``; with nothing new it still writes an (empty) file and says so.
Exit code 1 when some keyed forms could not be exported (each is listed with why).
``--to`` sends the same FHIR entries to the EPR's FHIR API as transaction Bundles and
records what it accepted and rejected (docs/export.md); exit code 1 when anything was
rejected, is still to send, or the run stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from paperfallback.cli.context import AppContext


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "export", help="export keyed entries for bulk re-import (FHIR, xlsx, CSV)",
        description="Export keyed entries: a FHIR R4 transaction Bundle (a .json file, or a "
                    "folder with bundle.json and NDJSON per resource type), an xlsx workbook "
                    "or CSV files; or send the FHIR entries to the EPR's FHIR API (--to).",
    )
    parser.add_argument("--format", choices=("fhir", "xlsx", "csv"),
                        help="fhir: transaction Bundle (+ NDJSON into a folder); xlsx; csv")
    parser.add_argument("--all", action="store_true",
                        help="export every keyed entry, not only what is new or changed")
    parser.add_argument("--out", metavar="bundle.json|DIR",
                        help="a .json (fhir) or .xlsx file, or a folder")
    parser.add_argument("--to", metavar="URL",
                        help="send to this FHIR R4 base URL as transaction Bundles")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --to: validate and show what would be sent; send nothing")
    parser.add_argument("--retry-rejected", action="store_true",
                        help="with --to: send again what the EPR rejected before")
    parser.set_defaults(func=_export)


def _export(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.export.pipeline import run_export

    if args.to:
        if args.out or (args.format and args.format != "fhir"):
            print("export --to sends FHIR: it takes no --out and no --format other than fhir",
                  file=sys.stderr)
            return 2
        return _send(ctx, args)
    if args.dry_run or args.retry_rejected:
        print("--dry-run and --retry-rejected go with --to URL", file=sys.stderr)
        return 2
    if not args.format or not args.out:
        print("export needs --format and --out (or --to URL)", file=sys.stderr)
        return 2

    key, source = ctx.key
    summary = run_export(ctx.data_dir, ctx.settings, key, source, args.format, Path(args.out),
                         all_entries=args.all, catalogue=ctx.catalogue)
    for warning in summary.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    for line in summary.lines(warnings=False):
        print(line)
    return 1 if summary.problems else 0


def _send(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.export.send_run import run_send

    key, source = ctx.key
    summary = run_send(ctx.data_dir, ctx.settings, key, source, args.to, dry_run=args.dry_run,
                       all_entries=args.all, retry_rejected=args.retry_rejected,
                       catalogue=ctx.catalogue)
    for warning in summary.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    for line in summary.lines(warnings=False):
        print(line)
    return 1 if summary.failed else 0
