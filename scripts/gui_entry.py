"""Entry point of the windowed ``paperfallback-gui`` executable (build_installer.spec).

A windowed Windows program has no console: ``sys.stdout``/``sys.stderr`` are None, so
they go to the null device before anything prints. Arguments pass through, so a
shortcut may give ``--data-dir``.
"""

import os
import sys

from paperfallback.cli.main import main

for name in ("stdout", "stderr"):
    if getattr(sys, name) is None:
        setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115

args = sys.argv[1:]
if not any(a in ("gui", "-h", "--help") for a in args):
    args.append("gui")
sys.exit(main(args))
