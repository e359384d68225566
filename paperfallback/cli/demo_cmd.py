"""``paperfallback demo [--seed N]``: build the synthetic demo hospital cache.

The demo is written as a FHIR extract and imported through the real importer, so a
first start exercises the production path.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from paperfallback.cli.context import AppContext


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("demo", help="build the synthetic demo hospital cache")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed (default: the app's demo hospital, seed 2018)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    from paperfallback.cache.demo import DEMO_SEED, build_demo_cache

    seed = DEMO_SEED if args.seed is None else args.seed
    result = build_demo_cache(ctx.open_cache(write=True), seed=seed)
    if args.json:
        print(json.dumps({"data_as_of": result.data_as_of.isoformat(), "counts": result.counts}))
    else:
        counts = ", ".join(f"{v} {k}" for k, v in result.counts.items())
        print(f"Demo hospital built (seed {seed}): {counts}")
    return 0
