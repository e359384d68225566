"""What every command needs: the data folder, the settings, the key and the stores."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from paperfallback.cache.store import CacheStore
from paperfallback.settings import Settings, cache_key, data_dir
from paperfallback.workstore import WorkStore


@dataclass
class AppContext:
    data_dir_option: str | None = None
    debug: bool = False
    _stores: list[CacheStore | WorkStore] = field(default_factory=list)

    @cached_property
    def data_dir(self) -> Path:
        return data_dir(self.data_dir_option)

    @cached_property
    def settings(self) -> Settings:
        return Settings.load(self.data_dir)

    @cached_property
    def key(self) -> tuple[str, str]:
        return cache_key(self.data_dir)

    def open_cache(self, *, write: bool = False) -> CacheStore:
        """The cache, read-only unless ``write`` (imports, refresh, demo): a reader never
        writes, so it never waits for a refresh in another process."""
        key, source = self.key
        store = CacheStore.open(self.data_dir, key, key_source=source, readonly=not write)
        self._stores.append(store)
        return store

    def open_work(self) -> WorkStore:
        """The work store (register, entries, export state), closed with the context."""
        key, source = self.key
        work = WorkStore.open(self.data_dir, key, key_source=source)
        self._stores.append(work)
        return work

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self._stores.clear()


log = logging.getLogger("paperfallback")
