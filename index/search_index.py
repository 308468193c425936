"""Keeps the FAISS file in step with the store, so the bot never cites a passage that is gone.

The store is the truth (it holds every vector); the FAISS file is a fast copy. On open, and
whenever another process has written (the store's generation moved), the copy is compared
with the store by passage id and mended: extra ids removed, missing ones added from stored
vectors. A missing, unreadable or foreign file (other model, other dimension) is rebuilt.

Above `approximate_above` passages the copy becomes approximate (IVF, see index.approximate):
it is built from the store in a background thread while searches go on against the exact copy,
then mended by id against the store (catching writes made meanwhile) and swapped in under the
lock. An IVF file whose store has shrunk below half the threshold is rebuilt exact at open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.approximate import BuildReport, build_ivf
from index.vectors import EXACT, IVF, CorruptIndexError, FaissVectorStore
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

    def __init__(
        self, store: SqliteStore, path: Path, model: str, dimension: int,
        approximate_above: int = 200_000, before_swap: Callable[[], None] | None = None,
    ) -> None:
        """`approximate_above`: passage count above which the copy becomes IVF (0: never).
        `before_swap`: called in the builder thread between building and swapping in (tests
        pause the build there to write meanwhile)."""
        self.store = store
        self.path = path
        self.model = model
        self.dimension = dimension
        self.approximate_above = approximate_above
        self.before_swap = before_swap
        self.last_build: BuildReport | None = None
        self._vectors: FaissVectorStore | None = None
        self._lock = threading.RLock()
        self._builder: threading.Thread | None = None
        self._epoch = 0  # bumped whenever the copy is replaced, so an older build is dropped
        self._build_failed = False  # then not retried on every write, only at the next open

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
            if not reason and vectors.kind == IVF and self._too_small_for_ivf(self.store.passage_count()):
                reason = "approximate index no longer needed"
            if reason:
                vectors = FaissVectorStore(self.dimension, self.model)
            self._replace(vectors)
            self._build_failed = False
            report = self._reconcile(rebuilt=bool(reason), reason=reason)
            if report.changed:
                quiet = reason == "no index file" and report.added == 0
                log.log(logging.INFO if quiet else logging.WARNING, "search index mended: %s", report)
                self.save()
            self._consider_approximate()
            return report

    def _replace(self, vectors: FaissVectorStore) -> None:
        self._vectors = vectors
        self._epoch += 1

    def _too_small_for_ivf(self, count: int) -> bool:
        """Hysteresis: go back to exact only well below the threshold, not on every dip."""
        return self.approximate_above <= 0 or count < self.approximate_above // 2

    # -- the approximate copy -------------------------------------------------------------

    def _consider_approximate(self) -> None:
        """Start the background build if the exact copy has outgrown the threshold (once)."""
        with self._lock:
            vectors = self._vectors
            if (self.approximate_above <= 0 or self._build_failed or vectors is None
                    or vectors.kind != EXACT or len(vectors) <= self.approximate_above):
                return
            if self._builder is not None and self._builder.is_alive():
                return
            log.info("%d passages (above %d): building an approximate index in the background",
                     len(vectors), self.approximate_above)
            self._builder = threading.Thread(
                target=self._build_approximate, args=(self._epoch,), name="approximate-index", daemon=True
            )
            self._builder.start()

    def _build_approximate(self, epoch: int) -> None:
        try:
            built, report = build_ivf(self.store, self.model, self.dimension)
            if self.before_swap is not None:
                self.before_swap()
            with self._lock:
                current = self._vectors
                if epoch != self._epoch or current is None or current.kind != EXACT:
                    log.info("approximate index dropped: the index was replaced while it was built")
                    return
                mended = self._reconcile(rebuilt=True, reason="writes during the build", vectors=built)
                self._replace(built)
                self.last_build = report
                self.save()
            log.info("approximate index swapped in (nprobe %d, recall@10 %.3f; %d added, %d removed "
                     "since the build read the store)", report.nprobe, report.recall_at_10,
                     mended.added, mended.removed)
        except Exception:
            self._build_failed = True
            log.exception("building the approximate index failed; search stays exact until the next open")

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Wait for a running background build; True if none is running (any more)."""
        builder = self._builder
        if builder is None:
            return True
        builder.join(timeout)
        return not builder.is_alive()

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

    def _reconcile(self, rebuilt: bool = False, reason: str = "",
                   vectors: FaissVectorStore | None = None) -> RepairReport:
        vectors = self._vectors if vectors is None else vectors
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
                self._consider_approximate()
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
            self._consider_approximate()

    def rebuild(self) -> RepairReport:
        """Drop the copy and rebuild it from the store's vectors."""
        with self._lock:
            self._replace(FaissVectorStore(self.dimension, self.model))
            report = self._reconcile(rebuilt=True, reason="rebuild requested")
            self.save()
            self._consider_approximate()
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
