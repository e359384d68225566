"""``paperfallback gui``: start the desktop app (the default command)."""

from __future__ import annotations

import argparse
from typing import Any

from paperfallback.cli.context import AppContext


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("gui", help="start the desktop app (default)")
    parser.set_defaults(func=_run)


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    ctx.derive_key_ahead()  # on a thread while Qt and the windows are imported (issue #15)
    from paperfallback.ui.app import run_app  # Qt is imported only here

    return int(run_app(ctx))
