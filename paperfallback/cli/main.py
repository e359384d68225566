"""``paperfallback [--data-dir DIR] [--debug] COMMAND ...``

Exit codes: 0 success, 2 usage error (argparse), 1 any other error, shown as one line on
stderr naming what and where; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from paperfallback.cache.leftovers import remove_crash_leftovers
from paperfallback.cli.context import AppContext
from paperfallback.derived_cache import use_data_folder
from paperfallback.domain.errors import PaperFallbackError
from paperfallback.gc_policy import gc_paused, settle_imports
from paperfallback.logs import setup_logging

log = logging.getLogger("paperfallback.cli")

# Each module defines ``add_parser(subparsers)``, which sets ``func(ctx, args) -> int``.
COMMAND_MODULES = (
    "paperfallback.cli.gui_cmd",
    "paperfallback.cli.demo_cmd",
    "paperfallback.cli.cache_cmd",
    "paperfallback.cli.patients_cmd",
    "paperfallback.cli.print_cmd",
    "paperfallback.cli.register_cmd",
    "paperfallback.cli.selftest_cmd",
    "paperfallback.cli.entries_cmd",
    "paperfallback.cli.export_cmd",
    "paperfallback.cli.merge_cmd",
    "paperfallback.cli.scans_cmd",
    "paperfallback.cli.report_cmd",
)


def command_modules(argv: Sequence[str]) -> tuple[str, ...]:
    """The command modules the parser needs for ``argv``: only the chosen command's.

    Importing every command module costs start-up time (each pulls in its feature), so a
    command imports only its own (no command: the app's); help or an unknown word get
    them all, so ``--help`` lists every command and argparse names the valid choices.
    A module ``x_y_cmd`` serves the command ``x-y`` or ``xy`` (``selftest_cmd``:
    ``self-test``).
    """
    words = list(argv)
    while words and words[0].startswith("-") and words[0] not in ("-h", "--help"):
        option = words.pop(0)
        if option == "--data-dir" and words:
            words.pop(0)
    if not words:
        words = ["gui"]  # no command starts the app
    if words[0] not in ("-h", "--help"):
        chosen = words[0].replace("-", "").replace("_", "")
        for name in COMMAND_MODULES:
            if name.rsplit(".", 1)[-1].removesuffix("_cmd").replace("_", "") == chosen:
                return (name,)
    return COMMAND_MODULES


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperfallback",
        description="Downtime paper forms for NHS wards, from a local encrypted cache.",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data folder (default: PAPERFALLBACK_DATA_DIR, else the per-user data folder)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    with gc_paused():  # the command's modules: never garbage (gc_policy)
        parser = build_parser(command_modules(words))
    settle_imports()
    args = parser.parse_args(words)
    ctx = AppContext(data_dir_option=args.data_dir, debug=args.debug)
    if args.command is None:
        args = parser.parse_args([*words, "gui"])
    # The command's name only, never its arguments: they may name a patient.
    command = " ".join(
        str(v) for k, v in vars(args).items() if (k == "command" or k.endswith("_command")) and v
    )
    if os.name != "nt":
        os.umask(0o077)  # every file and folder PaperFallback creates is private (issue #12)
    try:
        setup_logging(ctx.data_dir)
        use_data_folder(ctx.data_dir)  # parsed forms and fonts kept between runs
        log.info("%s: started", command)
        remove_crash_leftovers(ctx.data_dir)  # plaintext a killed refresh left behind
        code = int(args.func(ctx, args))
        log.info("%s: exit %d", command, code)
        return code
    except PaperFallbackError as exc:
        if args.debug:
            traceback.print_exc()
        log.error("%s: %s: %s", command, type(exc).__name__, exc)
        print(f"paperfallback: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("paperfallback: interrupted", file=sys.stderr)
        return 1
    except OSError as exc:
        if args.debug:
            traceback.print_exc()
        where = f" ({exc.filename})" if exc.filename else ""
        log.error("%s: %s%s", command, exc.strerror or exc, where)
        print(f"paperfallback: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception:
        log.exception("%s: unexpected error", command)
        raise
    finally:
        ctx.close()


def run() -> None:
    sys.exit(main())
