"""EPR extract importers: FHIR R4 (Bundles, resources, NDJSON, Bulk Data) and CSV/xlsx.

``read_extract`` is the one entry point; it returns a domain Snapshot and never touches
the store (the caller hands the snapshot to ``CacheStore.replace_snapshot``).
Formats and mapping rules: docs/formats.md.
"""

from paperfallback.cache.importers.extract import read_extract
from paperfallback.cache.importers.policy import DEFAULT_POLICY, EVERYTHING, ImportPolicy

__all__ = ["DEFAULT_POLICY", "EVERYTHING", "ImportPolicy", "read_extract"]
