"""Write a FHIR export's entries to disk as they are built, not after (issue 15, goal 3).

The transaction Bundle must be one JSON document with Patients and Encounters first and
Provenance last (``fhir_bundle.TYPE_ORDER``), but forms produce their entries mixed. So
each entry is serialised once, when it is built: its Bundle line goes to a spool file of
its group (beside the output, ``*.part``) and, into a folder, its NDJSON line straight to
its type's file. ``finish`` copies the groups, in order, line by line into ``bundle.json``:
memory holds one entry, not the export. Every file is written as ``*.part`` and renamed
when complete, so a loader never picks up a half-written export; on an error the parts are
removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from paperfallback.export.fhir_common import BuiltEntry, deterministic_id

BundleHead = Callable[[], dict[str, Any]]


class BundleWriter:
    """Entries in, ``bundle.json`` (and, into a folder, NDJSON per type and the manifest)
    out. ``group(entry)`` orders the Bundle (stable within a group); None: as given."""

    def __init__(self, out: Path, head: dict[str, Any], *,
                 group: Callable[[BuiltEntry], int] | None = None) -> None:
        self.out = out
        self.head = head
        self.group = group
        self.folder = out.suffix.lower() != ".json"
        self.bundle_path = out / "bundle.json" if self.folder else out
        self.bundle_path.parent.mkdir(parents=True, exist_ok=True)
        self._groups: dict[int, IO[bytes]] = {}
        self._parts: dict[str, IO[bytes]] = {}  # NDJSON file name -> open handle
        self.counts: dict[str, int] = {}  # NDJSON file name -> lines
        self.entries = 0

    def _spool(self, order: int) -> IO[bytes]:
        handle = self._groups.get(order)
        if handle is None:
            name = f".{self.bundle_path.name}.group{order}.part"
            handle = self._groups[order] = (self.bundle_path.parent / name).open("w+b")
        return handle

    def _ndjson(self, name: str, line: bytes) -> None:
        handle = self._parts.get(name)
        if handle is None:
            handle = self._parts[name] = (self.out / (name + ".part")).open("wb")
        handle.write(line + b"\n")
        self.counts[name] = self.counts.get(name, 0) + 1

    def write_unit(self, entries: Sequence[BuiltEntry], unit_key: str, /) -> None:
        """A unit's entries (``fhir_bundle.EntrySink``); the file needs no unit key."""
        for entry in entries:
            self.write(entry)

    def write(self, entry: BuiltEntry) -> None:
        """Serialise ``entry`` once, for the Bundle and its NDJSON file."""
        body = orjson.dumps(entry.resource)
        request: dict[str, Any] = {"method": entry.method, "url": entry.url}
        if entry.if_none_exist:
            request["ifNoneExist"] = entry.if_none_exist
        self._spool(self.group(entry) if self.group else 0).write(
            b'{"fullUrl":' + orjson.dumps(entry.full_url) + b',"resource":' + body
            + b',"request":' + orjson.dumps(request) + b"}\n")
        self.entries += 1
        if not self.folder:
            return
        if entry.method == "PATCH":
            self._ndjson("patches.ndjson", b'{"method":"PATCH","url":'
                         + orjson.dumps(entry.url) + b',"resource":' + body + b"}")
            return
        if "id" not in entry.resource:  # bulk loaders upsert by id: always the same
            prefix = b'{"resourceType":' + orjson.dumps(entry.resource_type) + b","
            body = (prefix + b'"id":' + orjson.dumps(deterministic_id(entry.full_url))
                    + b"," + body[len(prefix):])
        self._ndjson(f"{entry.resource_type}.ndjson", body)

    def finish(self, *, export_id: str, timestamp: datetime, source: str,
               extra_manifest: dict[str, Any] | None = None) -> list[Path]:
        """Assemble ``bundle.json`` from the groups; rename every part; the manifest."""
        head = orjson.dumps(self.head)
        part = self.bundle_path.parent / (self.bundle_path.name + ".part")
        try:
            with part.open("wb") as bundle:
                bundle.write(head[:-1] + (b',"entry":[\n' if self.entries else b"}\n"))
                first = True
                for order in sorted(self._groups):
                    spool = self._groups[order]
                    spool.seek(0)
                    for line in spool:
                        bundle.write((b"" if first else b",\n") + line[:-1])
                        first = False
                if self.entries:
                    bundle.write(b"\n]}\n")
        finally:
            self.close()
        part.replace(self.bundle_path)
        if not self.folder:
            return [self.bundle_path]
        written = [self.bundle_path]
        outputs = []
        for name in sorted(self._parts):
            path = self.out / name
            (self.out / (name + ".part")).replace(path)
            written.append(path)
            if name != "patches.ndjson":
                outputs.append({"type": name.removesuffix(".ndjson"), "url": name,
                                "count": self.counts[name]})
        manifest = {
            "transactionTime": timestamp.isoformat(timespec="seconds"),
            "exportId": export_id,
            "source": source,
            "bundle": "bundle.json",
            "output": outputs,
            "patches": ({"url": "patches.ndjson", "count": self.counts["patches.ndjson"]}
                        if "patches.ndjson" in self.counts else None),
            **(extra_manifest or {}),
        }
        path = self.out / "manifest.json"
        write_whole(path, orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
        written.append(path)
        return written

    def close(self) -> None:
        """Close and remove the group spools (the NDJSON parts stay for ``finish``)."""
        for handle in self._groups.values():
            handle.close()
            with contextlib.suppress(OSError):
                Path(handle.name).unlink()
        self._groups.clear()
        for handle in self._parts.values():
            handle.close()

    def abandon(self) -> None:
        """After an error: nothing half-written is left under any name."""
        self.close()
        for name in self._parts:
            (self.out / (name + ".part")).unlink(missing_ok=True)
        (self.bundle_path.parent / (self.bundle_path.name + ".part")).unlink(missing_ok=True)


def write_whole(path: Path, data: bytes) -> None:
    """Write whole or not at all: a half-written export must never be loaded."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
