"""Reading FHIR JSON from disk: Bundles, single resources, NDJSON and Bulk Data folders.

Every resource comes out with a :class:`Where` (file and line) so a mapping error can say
where the clerk or IT should look. A Bulk Data ``manifest.json`` is checked against the
NDJSON files found beside it: a file listed but missing, a file found but not listed, or
a declared ``count`` that differs means the export is incomplete, and the import fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from paperfallback.cache.importers.as_of import AsOfEvidence, parse_datetime
from paperfallback.cache.importers.client_log import is_client_log
from paperfallback.cache.importers.fhir_values import Json, dicts
from paperfallback.cache.importers.json_text import parse_json
from paperfallback.domain.errors import InputError

FHIR_SUFFIXES = (".json", ".ndjson", ".jsonl")
# A FHIR JSON file (a Bundle) is one JSON document: it is parsed whole, and its text kept
# until the import ends so an error in entry N can name its line (BundleText). Peak memory
# is about seven times the file (measured: 4.7 MB -> 82 MB, 17.8 MB -> 180 MB; 55 MB of it
# the program), so a larger file is refused before reading, pointing to NDJSON (read a
# line at a time: memory does not grow with it). An incremental parser (ijson) would
# stream the entries but not place an error on a line: not worth a second JSON reader.
MAX_JSON_FILE_BYTES = 50 * 2**20
TABULAR_SUFFIXES = (".csv", ".xlsx")
class BundleText:
    """A Bundle's text, kept so an error in entry N can be placed on a line (lazily)."""

    __slots__ = ("_cursor", "_entries", "_lines", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: dict[int, int | None] = {}
        self._cursor = 0
        self._entries: list[Any] | None = None

    def entries(self) -> list[Any]:
        """The Bundle's entries, parsed again once (error and duplicate paths only)."""
        if self._entries is None:
            try:
                found = json.loads(self.text).get("entry")
            except (ValueError, AttributeError):
                found = None
            self._entries = found if isinstance(found, list) else []
        return self._entries

    def line_of(self, entry: int, resource_id: str) -> int | None:
        """The line of entry ``entry``'s ``"id"``: the n-th occurrence of that id in the text,
        n counting earlier top-level entries with the same id (two copies of one resource)."""
        if entry in self._lines:
            return self._lines[entry]
        line = None
        if resource_id:
            earlier = sum(
                1 for item in self.entries()[:entry]
                if isinstance(item, dict) and isinstance(item.get("resource"), dict)
                and item["resource"].get("id") == resource_id
            )
            pattern = re.compile(r'"id"\s*:\s*' + re.escape(json.dumps(resource_id)))
            matches = list(pattern.finditer(self.text))
            if matches:
                found = matches[min(earlier, len(matches) - 1)]
                line = self.text.count("\n", 0, found.start()) + 1
        self._lines[entry] = line
        return line

    def first_line_of(self, resource_id: str) -> int | None:
        if not resource_id:
            return None
        pattern = re.compile(r'"id"\s*:\s*' + re.escape(json.dumps(resource_id)))
        found = pattern.search(self.text)
        return self.text.count("\n", 0, found.start()) + 1 if found else None


class Where:
    """Where a resource came from, as "file:line" (computed only when an error needs it).

    ``entry`` is the index of the top-level Bundle entry, ``nested`` the indexes below it
    when a Bundle holds Bundles."""

    __slots__ = ("_bundle", "entry", "file", "line", "nested")

    def __init__(
        self, file: str, line: int | None = None, entry: int | None = None,
        bundle: BundleText | None = None, nested: tuple[int, ...] = (),
    ) -> None:
        self.file = file
        self.line = line
        self.entry = entry
        self._bundle = bundle
        self.nested = nested

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled into an import's staging tables (importers.staging) without the Bundle's
        text: the text stays in memory once, found again by its number."""
        bundle = None
        if self._bundle is not None:
            bundle = id(self._bundle)
            _STAGED_BUNDLES[bundle] = self._bundle
        return _where_again, (self.file, self.line, self.entry, bundle, self.nested)

    def __str__(self) -> str:
        if self.entry is not None and self._bundle is not None:
            resource = _entry_resource(self._bundle, self.entry)
            if not self.nested:
                line = self._bundle.line_of(self.entry, str(resource.get("id") or ""))
            else:  # inside a Bundle inside the Bundle: the first line with its id
                line = self._bundle.first_line_of(str(self.reread().get("id") or ""))
            if line is not None:
                return f"{self.file}:{line}"
            return f"{self.file}, Bundle entry {'.'.join(map(str, self._numbers()))}"
        if self.entry is not None:
            return f"{self.file}:{self.line}, Bundle entry {'.'.join(map(str, self._numbers()))}"
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def _numbers(self) -> list[int]:
        return [n + 1 for n in ((self.entry or 0), *self.nested)]

    def reread(self) -> Json:
        """The resource read again from its file (only on an error path: comparing two
        copies of one id without keeping every resource of a large extract in memory)."""
        if self.entry is not None and self._bundle is not None:
            return _nested_resource(_entry_resource(self._bundle, self.entry), self.nested)
        try:
            with open(self.file, encoding="utf-8-sig") as handle:
                if self.file.lower().endswith(".json"):
                    data = json.load(handle)
                else:
                    text = next(
                        (t for n, t in enumerate(handle, start=1) if n == self.line), "{}"
                    )
                    data = json.loads(text)
        except (OSError, ValueError):
            return {}
        if self.entry is not None and isinstance(data, dict):
            data = _nested_resource(data, (self.entry, *self.nested))
        return data if isinstance(data, dict) else {}


# Bundle texts of Where objects kept in staging tables, by id (one import at a time;
# forget_staged_bundles() when it ends).
_STAGED_BUNDLES: dict[int, BundleText] = {}


def _where_again(file: str, line: int | None, entry: int | None, bundle: int | None,
                 nested: tuple[int, ...]) -> Where:
    text = _STAGED_BUNDLES.get(bundle) if bundle is not None else None
    return Where(file, line, entry, text, nested)


def forget_staged_bundles() -> None:
    _STAGED_BUNDLES.clear()


def _nested_resource(resource: Any, path: tuple[int, ...]) -> Json:
    """Follow entry indexes down through nested Bundles."""
    for index in path:
        entries = resource.get("entry") if isinstance(resource, dict) else None
        item = entries[index] if isinstance(entries, list) and index < len(entries) else None
        resource = item.get("resource") if isinstance(item, dict) else None
    return resource if isinstance(resource, dict) else {}


def _entry_resource(bundle: BundleText, entry: int) -> Json:
    # Re-parse only on the error path; the text is the Bundle we already read once.
    entries = bundle.entries()
    item = entries[entry] if entry < len(entries) else None
    resource = item.get("resource") if isinstance(item, dict) else None
    return resource if isinstance(resource, dict) else {}


@dataclass
class ExtractFiles:
    """The files an import will read, sorted by kind."""

    fhir: list[Path] = field(default_factory=list)
    tabular: list[Path] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    client_logs: list[Path] = field(default_factory=list)  # bulk-data-client log.ndjson
    skipped: list[str] = field(default_factory=list)


def find_files(paths: list[Path]) -> ExtractFiles:
    """Expand folders; a folder's other files (README ...) are skipped and listed."""
    found = ExtractFiles()
    for path in paths:
        if not path.exists():
            raise InputError("no such file or folder", where=str(path))
        if path.name.lower() == "manifest.json":
            path = path.parent  # a Bulk Data manifest stands for its whole folder
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                _sort_file(child, found, explicit=False)
        else:
            _sort_file(path, found, explicit=True)
    return found


def _sort_file(path: Path, found: ExtractFiles, *, explicit: bool) -> None:
    suffix = path.suffix.lower()
    if path.name.lower() == "manifest.json":
        found.manifests.append(path)
    elif is_client_log(path):
        found.client_logs.append(path)
    elif suffix in FHIR_SUFFIXES:
        found.fhir.append(path)
    elif suffix in TABULAR_SUFFIXES and not path.name.startswith("~$"):
        found.tabular.append(path)
    elif explicit:
        raise InputError(
            "not an extract file (expected .json, .ndjson, .csv or .xlsx)", where=str(path)
        )
    else:
        found.skipped.append(path.name)


@dataclass
class Manifest:
    """A FHIR Bulk Data export manifest: its time and the files it lists per type."""

    path: Path
    transaction_time: Any
    files: dict[str, tuple[str, int | None]]  # file name -> (resource type, declared count)


def read_manifest(path: Path, evidence: AsOfEvidence) -> Manifest:
    data = _load_json(path)
    if not isinstance(data, dict) or "output" not in data or "transactionTime" not in data:
        raise InputError(
            "not a FHIR Bulk Data manifest (needs 'transactionTime' and 'output')", where=str(path)
        )
    moment = parse_datetime(
        data["transactionTime"], field_name="transactionTime", where=path
    )
    if evidence.manifest_time is None or moment < evidence.manifest_time:
        evidence.manifest_time = moment
    files: dict[str, tuple[str, int | None]] = {}
    for group in ("output", "error", "deleted"):
        for item in dicts(data.get(group)):
            url = item.get("url")
            if not isinstance(url, str) or not url:
                raise InputError(f"an '{group}' item has no url", where=str(path))
            name = PurePosixPath(url.split("?")[0]).name
            count = item.get("count") if group == "output" else None
            files[name] = (str(item.get("type") or ""), count if isinstance(count, int) else None)
    return Manifest(path, moment, files)


def check_manifest(manifest: Manifest, ndjson: list[Path], counts: dict[Path, int]) -> None:
    """The files found beside a manifest must be exactly the files it lists."""
    folder = manifest.path.parent
    here = {p.name: p for p in ndjson if p.parent == folder}
    missing = sorted(set(manifest.files) - set(here))
    if missing:
        raise InputError(
            f"the Bulk Data manifest lists {len(missing)} file(s) that are not in the folder: "
            f"{', '.join(missing[:5])}; the export looks incomplete",
            where=str(manifest.path),
        )
    extra = sorted(set(here) - set(manifest.files))
    if extra:
        raise InputError(
            f"{len(extra)} NDJSON file(s) are not listed in the Bulk Data manifest: "
            f"{', '.join(extra[:5])}; they may come from another export",
            where=str(manifest.path),
        )
    for name, (_, declared) in manifest.files.items():
        got = counts.get(here[name])
        if declared is not None and got is not None and got != declared:
            raise InputError(
                f"{name} holds {got} resources but the manifest declares {declared}; "
                "the file looks truncated",
                where=str(manifest.path),
            )


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", where=str(path)) from exc
    try:
        return parse_json(text, str(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from exc


def read_fhir_file(
    path: Path, evidence: AsOfEvidence, counts: dict[Path, int]
) -> Iterator[tuple[Json, Where]]:
    """Every resource in one file, with where it came from."""
    if path.suffix.lower() in (".ndjson", ".jsonl"):
        yield from _read_ndjson(path, evidence, counts)
        return
    size = path.stat().st_size
    if size > MAX_JSON_FILE_BYTES:
        raise InputError(
            f"a FHIR JSON file (a Bundle) is read whole: this one is {size / 2**20:.0f} MB, "
            f"more than the {MAX_JSON_FILE_BYTES // 2**20} MB read in one piece; export the "
            "extract as FHIR Bulk Data NDJSON (read a line at a time, any size) or split the "
            "Bundle into smaller files", where=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", where=str(path)) from exc
    try:
        data = parse_json(text, f"{path}:1")
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from exc
    _require_resource(data, Where(str(path), 1))
    if data["resourceType"] == "Bundle":
        yield from _bundle_entries(data, str(path), evidence, BundleText(text), None)
    else:
        yield data, Where(str(path), 1)


def _read_ndjson(
    path: Path, evidence: AsOfEvidence, counts: dict[Path, int]
) -> Iterator[tuple[Json, Where]]:
    n = 0
    with path.open(encoding="utf-8-sig") as lines:
        lineno = 0
        while True:
            lineno += 1
            try:
                line = lines.readline()
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"not UTF-8 text ({exc.reason})", where=f"{path}:{lineno}"
                ) from exc
            if not line:
                break
            if not line.strip():
                continue
            try:
                data = parse_json(line, f"{path}:{lineno}")
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"not valid JSON: {exc.msg} (column {exc.colno})", where=f"{path}:{lineno}"
                ) from exc
            where = Where(str(path), lineno)
            _require_resource(data, where)
            n += 1
            if data["resourceType"] == "Bundle":
                yield from _bundle_entries(data, str(path), evidence, None, lineno)
            else:
                yield data, where
    counts[path] = n


def _require_resource(data: Any, where: Where) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        kind = type(data).__name__ if not isinstance(data, dict) else "object without resourceType"
        raise InputError(f"not a FHIR resource (a JSON {kind})", where=str(where))


def _bundle_entries(
    bundle: Json, file: str, evidence: AsOfEvidence, text: BundleText | None, line: int | None,
    outer: tuple[int, ...] = (),
) -> Iterator[tuple[Json, Where]]:
    """Entries of a collection, searchset, transaction, batch or document Bundle.

    A transaction entry's ``fullUrl`` (often ``urn:uuid:...``) becomes the resource's
    id when it has none, and references to it resolve (see ``fullUrl`` aliases).
    """
    if bundle.get("timestamp"):
        evidence.bundle_timestamps.append(
            parse_datetime(bundle["timestamp"], field_name="Bundle.timestamp", where=file)
        )
    for index, entry in enumerate(bundle.get("entry") or []):
        chain = (*outer, index)
        where = Where(file, line, chain[0], text, chain[1:])
        if not isinstance(entry, dict):
            raise InputError("a Bundle entry is not a JSON object", where=str(where))
        resource = entry.get("resource")
        if resource is None:
            continue  # e.g. a DELETE in a transaction: nothing to cache
        _require_resource(resource, where)
        if entry.get("search", {}).get("mode") == "outcome":
            continue
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url:
            if not resource.get("id"):
                resource = {**resource, "id": full_url.rsplit(":", 1)[-1].rsplit("/", 1)[-1]}
            resource["_fullUrl"] = full_url
        if resource["resourceType"] == "Bundle":
            yield from _bundle_entries(resource, file, evidence, text, line, chain)
        else:
            yield resource, where
