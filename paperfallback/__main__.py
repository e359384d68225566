"""``python -m paperfallback`` runs the command line."""

from paperfallback.cli.main import run

run()
