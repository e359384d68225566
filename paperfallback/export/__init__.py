"""Export for bulk re-import: FHIR R4 (UK Core) transaction Bundles and NDJSON, xlsx and CSV.

Everything here works on :mod:`paperfallback.export.model`, a small description of what
was keyed from each paper form; :mod:`paperfallback.export.from_entries` fills it from
the re-entry store. Writers never read the stores themselves, so they are easy to test
and to benchmark.
"""
