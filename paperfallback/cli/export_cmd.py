"""``paperfallback export --format fhir|xlsx|csv [--all] --out bundle.json|DIR``

Exports what was keyed back from paper for the EPR's bulk re-import (docs/export.md).
Only entries that are new or changed since the last export of that format go out,
unless ``--all``; with nothing new it still writes an (empty) file and says so.
Exit code 1 when some keyed forms could not be exported (each is listed with why).
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
                    "or CSV files.",
    )
    parser.add_argument("--format", required=True, choices=("fhir", "xlsx", "csv"),
                        help="fhir: transaction Bundle (+ NDJSON into a folder); xlsx; csv")
    parser.add_argument("--all", action="store_true",
                        help="export every keyed entry, not only what is new or changed")
    parser.add_argument("--out", required=True, metavar="bundle.json|DIR",
                        help="a .json (fhir) or .xlsx file, or a folder")
    parser.set_defaults(func=_export)


def _export(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.export.pipeline import run_export

    key, source = ctx.key
    summary = run_export(ctx.data_dir, ctx.settings, key, source, args.format, Path(args.out),
                         all_entries=args.all, catalogue=ctx.catalogue)
    for warning in summary.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    for line in summary.lines(warnings=False):
        print(line)
    return 1 if summary.problems else 0
