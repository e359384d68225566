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

from paperfallback.cli.context import AppContext, log


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
    from paperfallback.cache.work_db import open_work_db
    from paperfallback.cli.entries_cmd import double_entry_forms
    from paperfallback.domain.errors import CacheError
    from paperfallback.export.fhir_common import DEFAULT_BASE_URL, SiteSystems
    from paperfallback.export.from_entries import read_forms
    from paperfallback.export.pipeline import export_forms, gc_paused
    from paperfallback.export.state import ExportState
    from paperfallback.formspec import load_catalogue
    from paperfallback.reentry.store import EntriesStore
    from paperfallback.register import Register, pc_code_for

    settings = ctx.settings
    key, source = ctx.key
    try:
        cache = ctx.open_cache()
    except CacheError as exc:  # the export still works; pre-printed facts may be missing
        log.warning("export without the cache: %s", exc)
        print(f"Warning: the cache cannot be read ({exc}); printed drug names, "
              "procedures and list patients will be missing.", file=sys.stderr)
        cache = None
    conn = open_work_db(ctx.data_dir, key, key_source=source)
    try:
        register = Register(conn, pc_code=pc_code_for(settings), pc_id=settings.pc_id)
        store = EntriesStore(conn)
        state = ExportState(conn)
        systems_base = settings.export_base_url or DEFAULT_BASE_URL
        with gc_paused():  # thousands of small objects, no cycles: see gc_paused
            read = read_forms(
                store, register, load_catalogue(), cache, site_code=settings.site_code,
                hospital_number_system=(settings.hospital_number_systems or [""])[0] or
                "https://fhir.nhs.uk/Id/local-patient-identifier",
                double_entry_forms=double_entry_forms(ctx),
            )
        summary = export_forms(
            read.forms, fmt=args.format, out=Path(args.out), state=state,
            systems=SiteSystems.for_site(settings.site_code, systems_base),
            pc_id=settings.pc_id, all_entries=args.all,
        )
        if summary.instance_ids:
            store.mark_exported(summary.instance_ids)
    finally:
        conn.close()
    summary.problems[:0] = read.problems
    for line in summary.lines():
        print(line)
    return 1 if summary.problems else 0
