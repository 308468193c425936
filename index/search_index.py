"""Keeps the FAISS file in step with the store, so the bot never cites a passage that is gone.

The store is the truth (it holds every vector); the FAISS file is a fast copy. On open, and
whenever another process has written (the store's generation moved), the copy is compared
with the store by passage id and mended: extra ids removed, missing ones added from stored
vectors. A missing, unreadable or foreign file (other model, other dimension) is rebuilt.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.vectors import CorruptIndexError, FaissVectorStore
from knowledge.errors import StoreError
from knowledge.store import SqliteStore, WriteResult

log = logging.getLogger(__name__)

STALE_TEMPORARY_SECONDS = 3600


@dataclass(frozen=True)
class RepairReport:
    """What opening the index had to do; all zero/False when file and store agreed."""

    rebuilt: bool = False
    reason: str = ""
    removed: int = 0
    added: int = 0

    @property
    def changed(self) -> bool:
        return self.rebuilt or self.removed > 0 or self.added > 0


class SearchIndex:
    """The vector index of one store, loaded lazily and mended against it."""

    def __init__(self, store: SqliteStore, path: Path, model: str, dimension: int) -> None:
        self.store = store
        self.path = path
        self.model = model
        self.dimension = dimension
        self._vectors: FaissVectorStore | None = None
        self._lock = threading.RLock()

    def open(self) -> RepairReport:
        """Load the saved index and make it agree with the store; saves it if it changed."""
        with self._lock:
            self._check_model()
            self._sweep_stale_temporaries()
            reason = ""
            try:
                vectors = FaissVectorStore.load(self.path)
                if vectors.model != self.model or vectors.dimension != self.dimension:
                    reason = f"built for {vectors.model} ({vectors.dimension}-d)"
            except FileNotFoundError:
                reason = "no index file"
            except CorruptIndexError as exc:
                reason = str(exc)
            if reason:
                vectors = FaissVectorStore(self.dimension, self.model)
            self._vectors = vectors
            report = self._reconcile(rebuilt=bool(reason), reason=reason)
            if report.changed:
                quiet = reason == "no index file" and report.added == 0
                log.log(logging.INFO if quiet else logging.WARNING, "search index mended: %s", report)
                self.save()
            return report

    def _sweep_stale_temporaries(self, older_than: float = STALE_TEMPORARY_SECONDS) -> None:
        """Remove temporary index files left by a process killed while saving. A save takes
        seconds, so a temporary file an hour old belongs to nobody."""
        cutoff = time.time() - older_than
        for leftover in self.path.parent.glob(self.path.name + ".*.tmp"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    log.info("removed a stale temporary index file %s", leftover)
            except FileNotFoundError:
                pass

    def _check_model(self) -> None:
        """Vectors of another model would load but answer nonsense: refuse them."""
        stored = self.store.embedding_model()
        if stored is not None and stored != self.model:
            raise StoreError(
                f"the knowledge base was embedded with {stored!r} but the model is now "
                f"{self.model!r}: run 'crisisbot reindex'"
            )

    @property
    def vectors(self) -> FaissVectorStore:
        if self._vectors is None:
            self.open()
        assert self._vectors is not None
        return self._vectors

    def _reconcile(self, rebuilt: bool = False, reason: str = "") -> RepairReport:
        vectors = self._vectors
        assert vectors is not None
        while True:
            generation = self.store.generation()
            if not rebuilt and vectors.generation == generation:
                return RepairReport()
            stored = self.store.passage_ids()
            indexed = vectors.ids()
            extra = np.setdiff1d(indexed, stored, assume_unique=True)
            missing = np.setdiff1d(stored, indexed, assume_unique=True)
            vectors.remove(extra)
            for first in range(0, len(missing), 4096):
                chunk = missing[first : first + 4096]
                vectors.add(*self.store.existing_vectors(chunk.tolist(), self.dimension))
            if self.store.generation() == generation:  # nobody wrote meanwhile
                vectors.generation = generation
                return RepairReport(rebuilt, reason, len(extra), len(missing))

    def refresh_if_stale(self) -> RepairReport:
        """Open if needed, then pick up writes made by another process (one cheap query when
        nothing changed)."""
        with self._lock:
            if self._vectors is None:
                return self.open()
            if self._vectors.generation == self.store.generation():
                return RepairReport()
            report = self._reconcile()
            if report.changed:
                log.info("search index caught up with the store: %s", report)
            return report

    def apply(self, result: WriteResult, save: bool = True) -> None:
        """Mirror a write this process made (the store already holds it)."""
        with self._lock:
            vectors = self.vectors
            vectors.remove(np.asarray(result.removed_passage_ids, dtype=np.int64))
            if result.added_passage_ids:
                vectors.add(
                    np.asarray(result.added_passage_ids, dtype=np.int64),
                    np.vstack(result.added_vectors),
                )
            if vectors.generation == result.generation - 1:
                vectors.generation = result.generation
            else:  # another process wrote in between: compare ids to be sure
                self._reconcile(rebuilt=True, reason="concurrent write")
            if save:
                self.save()

    def rebuild(self) -> RepairReport:
        """Drop the copy and rebuild it from the store's vectors."""
        with self._lock:
            self._vectors = FaissVectorStore(self.dimension, self.model)
            report = self._reconcile(rebuilt=True, reason="rebuild requested")
            self.save()
            return report

    def save(self) -> None:
        with self._lock:
            self.vectors.save(self.path)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        self.refresh_if_stale()
        return self.vectors.search(vector, k)

    def search_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        self.refresh_if_stale()
        return self.vectors.search_many(vectors, k)
