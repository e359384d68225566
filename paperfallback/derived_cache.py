"""Rebuildable results kept between runs in the user's data folder (issue #15).

A print command used to re-do the same work on every run: validate the form definitions
and parse the embedded fonts. Both results are kept in ``<data folder>/form-cache/``
(never beside the forms or the fonts, which may be a read-only install or IT's shared
folder), each file under a key made from everything the result depends on: the versions
of PaperFallback, Python and the library that built it, and the SHA-256 of every input
file's bytes. Another key means the work is done again and the file rewritten, so a stale
result is never used.

A file is ``magic, key digest, payload digest, payload`` (the payload pickled). The
payload is loaded only when both digests match: a damaged, truncated or foreign file is
ignored and rebuilt. The digests catch damage, not an attacker, so unpickling is
restricted (as the ``pickle`` documentation's "Restricting Globals" shows): it may build
only classes from the modules PaperFallback caches (form definitions, parsed fonts), never
call a function, so a planted file cannot run code. The files are written atomically,
mode 0600, into the data folder that also holds the encrypted stores and the key file,
private to the user. A failure to write (read-only or full disk) only costs the next run
the work again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pickle
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FOLDER = "form-cache"
_MAGIC = b"PFDERIVED1\n"  # the file layout; a new layout gets a new magic
_DIGEST = 32

log = logging.getLogger(__name__)

_folder: Path | None = None

# What a kept file may build: classes only, from these modules only.
_ALLOWED_MODULES = frozenset({
    "paperfallback.formspec.catalogue", "paperfallback.formspec.models",
    "reportlab.pdfbase.ttfonts",
})


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _ALLOWED_MODULES:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a kept file")


def use_data_folder(data_dir: Path | None) -> None:
    """Keep derived results under ``data_dir`` for this process (None: keep none)."""
    global _folder
    _folder = None if data_dir is None else data_dir / FOLDER


def folder() -> Path | None:
    """Where this process keeps them, if it was told (:func:`use_data_folder`)."""
    return _folder


def key_of(parts: Iterable[str], files: Iterable[Path] = ()) -> bytes:
    """SHA-256 over ``parts`` (versions, names), the interpreter's version, and each file's
    name and bytes (an unreadable or missing file gives a key nothing matches)."""
    from paperfallback import __version__

    digest = hashlib.sha256()
    for part in (_MAGIC.decode().strip(), __version__, sys.version, *parts):
        digest.update(part.encode("utf-8") + b"\0")
    for path in files:
        try:
            content = path.read_bytes()
        except OSError as exc:
            content = f"unreadable: {exc}".encode()
        digest.update(os.fsencode(path.name) + b"\0" + hashlib.sha256(content).digest())
    return digest.digest()


def read(path: Path, key: bytes) -> Any | None:
    """The payload kept at ``path`` under ``key``; None when absent, other or damaged."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC)
    if (not data.startswith(_MAGIC) or len(data) < head + 2 * _DIGEST
            or data[head:head + _DIGEST] != key):
        return None  # another layout or other inputs: rebuilt
    payload = data[head + 2 * _DIGEST:]
    if hashlib.sha256(payload).digest() != data[head + _DIGEST:head + 2 * _DIGEST]:
        log.warning("%s is damaged; it is built again", path)
        return None
    try:
        return _RestrictedUnpickler(io.BytesIO(payload)).load()
    except Exception:  # a class renamed since, or something not allowed: as damaged
        log.warning("%s cannot be read; it is built again", path)
        return None


def write(path: Path, key: bytes, value: Any) -> None:
    """Keep ``value`` at ``path`` under ``key`` (atomically; silently not, if it cannot)."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
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
        log.info("%s not written (%s): built again next time", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
