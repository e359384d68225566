"""The parsed, validated form catalogue kept between runs, keyed by the forms' own bytes.

Every command and the app start load the same handful of YAML files and validate them
with pydantic; building the validators costs more than parsing (issue #15). So the result
is kept in the user's data folder (``form-cache/catalogue.pickle``: see
:mod:`paperfallback.derived_cache`) under a key made from the PaperFallback, pydantic and
Python versions and, for each folder the forms came from (in order), its path and each
``*.yaml`` file's name and SHA-256: a form edited, added, removed or renamed, or a site
folder that appears or goes away, gives another key, so the forms are loaded and
validated again. A damaged file is ignored and rebuilt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from paperfallback import derived_cache
from paperfallback.formspec.catalogue import FormCatalogue

CACHE_DIR = derived_cache.FOLDER
CACHE_FILE = "catalogue.pickle"


def catalogue_key(folders: Iterable[Path]) -> bytes:
    import pydantic

    parts = ["catalogue", pydantic.VERSION]
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found = sorted(folder.glob("*.yaml"))
            parts.append(f"folder {os.fsdecode(folder)}: " + "/".join(p.name for p in found))
            files += found
        else:
            parts.append(f"folder {os.fsdecode(folder)}: missing")
    return derived_cache.key_of(parts, files)


def cached_catalogue(cache_dir: Path, folders: list[Path],
                     load: Callable[[], FormCatalogue]) -> FormCatalogue:
    """The catalogue of ``folders`` from ``cache_dir`` when its key matches; otherwise
    ``load()`` it and keep it there for the next run."""
    key = catalogue_key(folders)
    path = cache_dir / CACHE_FILE
    found = derived_cache.read(path, key)
    if isinstance(found, FormCatalogue):
        return found
    catalogue = load()
    derived_cache.write(path, key, catalogue)
    return catalogue
