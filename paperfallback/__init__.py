"""PaperFallback: downtime paper forms for NHS wards.

The core (domain, cache, formspec, render, register, reentry, export) is pure Python and
never imports Qt; ``paperfallback.ui`` and ``paperfallback.cli`` sit on top of it.
"""

__version__ = "0.1.0"
