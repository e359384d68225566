"""The parsed, validated form catalogue kept between runs, keyed by the forms' own bytes.

Every command and the app start load the same handful of YAML files and validate them
with pydantic; building the validators alone costs more than parsing (issue #15). So the
result is kept in the user's data folder (``form-cache/catalogue.pickle``, never next to
the forms, which may be a read-only install or IT's shared folder) under a key made from:

- the cache format, the PaperFallback, pydantic and Python versions (a model change);
- each folder the forms came from, in order, and for each ``*.yaml`` in it its name and
  the SHA-256 of its bytes (a form edited, added, removed or renamed; a site folder that
  appears or goes away).

Any change gives another key, so the forms are loaded and validated again and the file
rewritten; a stale catalogue is never used. The file also carries the SHA-256 of its
payload: a damaged, truncated or unreadable file is ignored and rebuilt. Failing to write
it (a read-only or full disk) only costs the next run the validation again.

The file holds the validated models pickled. It lives in the data folder that holds the
encrypted stores and the key file, private to the user (mode 0600 on POSIX, the user's
profile on Windows); the payload is loaded only when its digest matches.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import platform
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from paperfallback.formspec.catalogue import FormCatalogue

CACHE_DIR = "form-cache"
CACHE_FILE = "catalogue.pickle"
_MAGIC = b"PFCAT1\n"  # the file format; a new layout gets a new magic
_DIGEST = 32

log = logging.getLogger(__name__)


def catalogue_key(folders: Iterable[Path]) -> bytes:
    """SHA-256 over the versions and every form file's name and bytes, folder by folder."""
    import pydantic

    from paperfallback import __version__

    digest = hashlib.sha256()
    for part in (_MAGIC.decode().strip(), __version__, pydantic.VERSION,
                 platform.python_implementation(), sys.version):
        digest.update(part.encode("utf-8") + b"\0")
    for folder in folders:
        digest.update(b"folder\0" + os.fsencode(folder) + b"\0")
        if not folder.is_dir():
            digest.update(b"missing\0")
            continue
        for path in sorted(folder.glob("*.yaml")):
            try:
                content = path.read_bytes()
            except OSError as exc:  # unreadable now: a key that matches no earlier file
                content = f"unreadable: {exc}".encode()
            digest.update(os.fsencode(path.name) + b"\0"
                          + hashlib.sha256(content).digest())
    return digest.digest()


def cached_catalogue(cache_dir: Path, folders: list[Path],
                     load: Callable[[], FormCatalogue]) -> FormCatalogue:
    """The catalogue of ``folders`` from ``cache_dir`` when its key matches; otherwise
    ``load()`` it and keep it there for the next run."""
    key = catalogue_key(folders)
    path = cache_dir / CACHE_FILE
    found = _read(path, key)
    if found is not None:
        return found
    catalogue = load()
    _write(path, key, catalogue)
    return catalogue


def _read(path: Path, key: bytes) -> FormCatalogue | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC)
    if (not data.startswith(_MAGIC) or len(data) < head + 2 * _DIGEST
            or data[head:head + _DIGEST] != key):
        return None  # another format or other forms: rebuilt
    payload = data[head + 2 * _DIGEST:]
    if hashlib.sha256(payload).digest() != data[head + _DIGEST:head + 2 * _DIGEST]:
        log.warning("form catalogue cache %s is damaged; the forms are loaded again", path)
        return None
    try:
        catalogue: Any = pickle.loads(payload)  # our own file, its digest checked
    except Exception:  # a class renamed since: as damaged
        log.warning("form catalogue cache %s cannot be read; the forms are loaded again",
                    path)
        return None
    return catalogue if isinstance(catalogue, FormCatalogue) else None


def _write(path: Path, key: bytes, catalogue: FormCatalogue) -> None:
    payload = pickle.dumps(catalogue, protocol=pickle.HIGHEST_PROTOCOL)
    data = _MAGIC + key + hashlib.sha256(payload).digest() + payload
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)  # inside the data folder, never makes it
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0),
                     0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        log.info("form catalogue cache not written (%s): forms load from YAML next time", exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
