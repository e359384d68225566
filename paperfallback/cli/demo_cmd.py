"""``paperfallback demo [--seed N]``: build the synthetic demo hospital cache.

The demo is written as a FHIR extract and imported through the real importer, so a
first start exercises the production path.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from paperfallback.cli.context import AppContext


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("demo", help="build the synthetic demo hospital cache")
    parser.add_argument("--seed", type=int, default=2018, help="random seed (default 2018)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.cache.demo import write_demo_extract
    from paperfallback.cache.importers import read_extract

    with tempfile.TemporaryDirectory(prefix="pf-demo-") as tmp:
        folder = write_demo_extract(Path(tmp), seed=args.seed)
        snapshot = read_extract([folder])
        store = ctx.open_cache()
        result = store.replace_snapshot(snapshot, force=True)
        store.record_refresh(ok=True, source=f"demo seed {args.seed}")
    if args.json:
        print(json.dumps({"data_as_of": result.data_as_of.isoformat(), "counts": result.counts}))
    else:
        counts = ", ".join(f"{v} {k}" for k, v in result.counts.items())
        print(f"Demo hospital built (seed {args.seed}): {counts}")
    return 0
