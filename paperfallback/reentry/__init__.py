"""Re-entry after recovery: keyed entries, validation, NEWS2 checks, double entry,
spreadsheet workbooks and reconciliation.

Qt-free: the keying screens in ``paperfallback.ui.keying`` and the ``entries`` CLI
command sit on top of it; the export reads what it stores.
"""
