"""Keeps the FAISS file in step with the store, so the bot never cites a passage that is gone.

The store is the truth (it holds every vector); the FAISS file is a fast copy. On open, and
whenever another process has written (the store's generation moved), the copy is compared
with the store by passage id and mended: extra ids removed, missing ones added from stored
vectors. A missing, unreadable or foreign file (other model, other dimension) is rebuilt.

Above `approximate_above` passages the copy becomes approximate (IVF, see index.approximate):
it is built from the store in a background thread while searches go on against the exact copy,
then mended by id against the store (catching writes made meanwhile) and swapped in under the
lock. An IVF file whose store has shrunk below half the threshold is rebuilt exact at open.

The same background build-and-swap serves every other change of copy: another `storage`
(float16, sq8; "auto", the default, turns a float32 copy into sq8 once the knowledge base
passes `AUTO_SQ8_ABOVE` passages, where exact float32 search becomes the slowest step of an
answer and its memory the largest part of the process), and retraining a trained copy (IVF
centroids, sq8 ranges) once the knowledge base has doubled since its training, so recall does
not drift as it grows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index.approximate import TRAINING_SAMPLE, BuildReport, build_ivf
from index.background import wait_for
from index.interfaces import RepairReport
from index.vectors import (AUTO, EXACT, FLOAT32, IVF, SQ8, TRAINED_STORAGES, CorruptIndexError,
                           FaissVectorStore, exact_index)
from knowledge.errors import StoreError
from knowledge.store_interface import VectorSource, WriteResult

log = logging.getLogger(__name__)

STALE_TEMPORARY_SECONDS = 3600
MIN_TRAINING = 1000  # stored vectors needed before a trained storage (sq8) is used
RETRAIN_GROWTH = 2.0  # retrain once the knowledge base is this many times its training size
# "auto" storage: sq8 above this many passages (its cosines are within 0.0025 of float32's,
# recall@10 0.99 at 100k; the search is 3-4 times faster and a quarter of the memory).
AUTO_SQ8_ABOVE = 50_000


class SearchIndex:
    """The vector index of one store, loaded lazily and mended against it."""

    def __init__(
        self, store: VectorSource, path: Path, model: str, dimension: int,
        approximate_above: int = 200_000, before_swap: Callable[[], None] | None = None,
        storage: str = FLOAT32, auto_sq8_above: int = AUTO_SQ8_ABOVE,
    ) -> None:
        """`approximate_above`: passage count above which the copy becomes IVF (0: never).
        `before_swap`: called in the builder thread between building and swapping in (tests
        pause the build there to write meanwhile). `storage`: how the copy holds vectors, or
        "auto": float32 up to `auto_sq8_above` passages, sq8 above."""
        self.store = store
        self.path = path
        self.model = model
        self.dimension = dimension
        self.approximate_above = approximate_above
        self.before_swap = before_swap
        self.storage = storage
        self.auto_sq8_above = auto_sq8_above
        self._save_lock = threading.Lock()
        self._local_writes = 0  # this process's writes between the store and `apply`
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
                vectors = self._empty_exact_copy()
            self._replace(vectors)
            self._build_failed = False
            report = self._reconcile(rebuilt=bool(reason), reason=reason)
            if report.changed:
                quiet = reason == "no index file" and report.added == 0
                log.log(logging.INFO if quiet else logging.WARNING, "search index mended: %s", report)
                self.save()
            self._consider_rebuild()
            return report

    def _replace(self, vectors: FaissVectorStore) -> None:
        self._vectors = vectors
        self._epoch += 1

    def _too_small_for_ivf(self, count: int) -> bool:
        """Hysteresis: go back to exact only well below the threshold, not on every dip."""
        return self.approximate_above <= 0 or count < self.approximate_above // 2

    def _wanted_storage(self, count: int, current: str = FLOAT32) -> str:
        """The storage a copy of `count` passages should use. For "auto", a copy that went sq8
        goes back to float32 only below half the size (not on every dip around it)."""
        if self.storage != AUTO:
            return self.storage
        if count > self.auto_sq8_above:
            return SQ8
        return current if current == SQ8 and count > self.auto_sq8_above // 2 else FLOAT32

    # -- copies built in the background ----------------------------------------------

    def _empty_exact_copy(self) -> FaissVectorStore:
        """An exact copy to fill from the store: in the wanted storage when it needs no
        training or there is enough to train on (a sample of stored vectors), else float32
        (the background build switches it once the store has grown)."""
        count = self.store.passage_count()
        storage = self._wanted_storage(count)
        training = None
        if storage in TRAINED_STORAGES:
            training = self._training_sample()
            if training is None:
                return FaissVectorStore(self.dimension, self.model)
        index = exact_index(self.dimension, storage, training)
        return FaissVectorStore(self.dimension, self.model, index,
                                trained_on=count if training is not None else 0)

    def _training_sample(self) -> np.ndarray | None:
        ids = self.store.passage_ids()
        if len(ids) < MIN_TRAINING:
            return None
        if len(ids) > TRAINING_SAMPLE:
            ids = np.sort(np.random.default_rng(len(ids)).choice(ids, TRAINING_SAMPLE, replace=False))
        return self.store.existing_vectors(ids.tolist(), self.dimension)[1]

    def _rebuild_reason(self, vectors: FaissVectorStore) -> str:
        """Why the current copy should be replaced by a background build ("" if it should not)."""
        count = len(vectors)
        wants_ivf = self.approximate_above > 0 and count > self.approximate_above
        if wants_ivf and vectors.kind == EXACT:
            return f"{count} passages (above {self.approximate_above}): building an approximate index"
        storage = self._wanted_storage(count, vectors.storage)
        if vectors.storage != storage and (storage not in TRAINED_STORAGES or count >= MIN_TRAINING):
            configured = "" if storage == self.storage else f" ({self.storage} at {count} passages)"
            return f"vectors stored as {vectors.storage}, configured {storage}{configured}"
        trained = vectors.kind == IVF or vectors.storage in TRAINED_STORAGES
        if trained and vectors.trained_on > 0 and count > RETRAIN_GROWTH * vectors.trained_on:
            return f"{count} passages, trained on {vectors.trained_on}: retraining"
        return ""

    def _consider_rebuild(self) -> None:
        """Start a background build when the copy should change (one at a time; a failed
        build is not retried until the next open)."""
        with self._lock:
            vectors = self._vectors
            if self._build_failed or vectors is None:
                return
            reason = self._rebuild_reason(vectors)
            if not reason or (self._builder is not None and self._builder.is_alive()):
                return
            log.info("search index: %s, in the background", reason)
            self._builder = threading.Thread(
                target=self._build_in_background, args=(self._epoch,), name="index-build", daemon=True
            )
            self._builder.start()

    def _build_in_background(self, epoch: int) -> None:
        try:
            count = self.store.passage_count()
            if self.approximate_above > 0 and count > self.approximate_above:
                built, report = build_ivf(self.store, self.model, self.dimension,
                                          storage=self._wanted_storage(count))
            else:  # filled outside the lock: reading a million stored vectors takes a while
                built, report = self._empty_exact_copy(), None
                self._reconcile(rebuilt=True, vectors=built)
            if self.before_swap is not None:
                self.before_swap()
            with self._lock:
                if epoch != self._epoch or self._vectors is None:
                    log.info("index build dropped: the index was replaced while it was built")
                    return
                mended = self._reconcile(rebuilt=True, reason="writes during the build", vectors=built)
                self._replace(built)
                if report is not None:
                    self.last_build = report
            self.save()
            log.info("search index swapped in: %s %s (nprobe %d, recall@10 %s; %d added, %d removed "
                     "since the build read the store)", built.kind, built.storage, built.nprobe,
                     "exact" if report is None else f"{report.recall_at_10:.3f}",
                     mended.added, mended.removed)
        except Exception:
            self._build_failed = True
            log.exception("building the search index failed; the current copy stays until the next open")

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Wait for a running background build; True if none is running (any more)."""
        return wait_for(self._builder, timeout)

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

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around this process's write to the store and its `apply`. Searches meanwhile use
        the copy as it is instead of mending it against a write that `apply` is about to
        mirror: mending lists every stored id (half a second at 100,000 passages), which every
        question during an import would otherwise pay."""
        with self._lock:
            self._local_writes += 1
        try:
            yield
        finally:
            with self._lock:
                self._local_writes -= 1

    def refresh_if_stale(self) -> RepairReport:
        """Open if needed, then pick up writes made by another process (one cheap query when
        nothing changed)."""
        with self._lock:
            if self._vectors is None:
                return self.open()
            if self._local_writes or self._vectors.generation == self.store.generation():
                return RepairReport()
            report = self._reconcile()
            if report.changed:
                log.info("search index caught up with the store: %s", report)
                self._consider_rebuild()
            return report

    def apply(self, result: WriteResult, save: bool = True) -> None:
        """Mirror a write this process made (the store already holds it). Nothing to mirror
        if the copy was mended against the store since (it then holds the write already:
        adding its vectors again would list them twice)."""
        with self._lock:
            vectors = self.vectors
            if vectors.generation < result.generation:
                self._mirror(vectors, result)
        if save:
            self.save()
        self._consider_rebuild()

    def _mirror(self, vectors: FaissVectorStore, result: WriteResult) -> None:
        vectors.remove(np.asarray(result.removed_passage_ids, dtype=np.int64))
        if result.added_passage_ids:
            vectors.add(np.asarray(result.added_passage_ids, dtype=np.int64), np.vstack(result.added_vectors))
        if vectors.generation == result.generation - 1:
            vectors.generation = result.generation
        else:  # another process wrote in between: compare ids to be sure
            self._reconcile(rebuilt=True, reason="concurrent write")

    def rebuild(self) -> RepairReport:
        """Drop the copy and rebuild it from the store's vectors."""
        with self._lock:
            self._replace(self._empty_exact_copy())
            report = self._reconcile(rebuilt=True, reason="rebuild requested")
        self.save()
        self._consider_rebuild()
        return report

    def save(self) -> None:
        """Write the current copy. Outside the index's lock (searches and catching up go on;
        the copy's own read lock keeps writes out while it streams); saves queue on their own
        lock, and each writes the copy current when it starts, so the last one is the newest."""
        with self._save_lock:  # never taken before self._lock: open() saves while holding that
            vectors = self._vectors
            if vectors is not None:
                vectors.save(self.path)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        self.refresh_if_stale()
        return self.vectors.search(vector, k)

    def search_many(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        self.refresh_if_stale()
        return self.vectors.search_many(vectors, k)
