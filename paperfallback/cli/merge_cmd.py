"""``paperfallback merge EXPORT... --out DIR``

Combines FHIR exports from several ward PCs into one folder (bundle.json, NDJSON per
resource type, manifest.json) without duplicates. The same form keyed on two PCs with
different values is a conflict: that form is held back and written to conflicts.json
for a person to settle against the paper; exit code 1 when there is any.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from paperfallback.cli.context import AppContext


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "merge", help="combine FHIR exports from several PCs, without duplicates",
        description="Combine FHIR exports (bundle .json files or export folders) from "
                    "several ward PCs into one folder, reporting conflicts.",
    )
    parser.add_argument("exports", nargs="+", metavar="EXPORT",
                        help="a bundle .json file or an export folder")
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    parser.set_defaults(func=_merge)


def _merge(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.export.merge import merge_exports, write_merge

    result = merge_exports([Path(p) for p in args.exports])
    written = write_merge(result, Path(args.out))
    print(f"Merged {len(result.inputs)} exports ({result.entries_in} entries) into "
          f"{len(result.entries)} entries in {written[0].parent}; "
          f"{result.duplicates} duplicates dropped, {result.superseded} superseded by a "
          "later export of the same PC.")
    if result.conflicts:
        print(f"{len(result.conflicts)} conflicts: these forms were keyed differently on "
              "two PCs and are held back (see conflicts.json; check against the paper):")
        for conflict in result.conflicts:
            print(f"  {conflict.describe()}")
        return 1
    print("No conflicts.")
    return 0
