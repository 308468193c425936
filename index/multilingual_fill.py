"""Gives every passage its multilingual vector, in the background, after the setting is turned on.

A knowledge base built with multilingual retrieval off has no e5 vectors; embedding them takes
minutes (10-25 passages a second on two cores), so it cannot happen at start or inside a
question. One thread embeds the passages that lack a vector, a batch at a time, outside any
lock; each batch is then written in one store transaction under the one writer's lock and
mirrored into the multilingual FAISS copy, like any other write. A kill loses at most the batch
being embedded, and the next fill starts from what the table holds: nothing is half-written.
Questions are answered meanwhile; the retriever uses the multilingual half only once the table
is complete (`MultilingualRetrieval.complete`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np

from index.background import wait_for
from index.embedder import Embedder
from index.interfaces import VectorIndex
from knowledge.multilingual_store import MultilingualVectorTable

log = logging.getLogger(__name__)

FILL_BATCH = 32
"""Passages a batch: about two seconds of e5 on two cores, so the writer's lock, taken only to
write a batch, is never held long, and a stop request is honoured within seconds."""


_LOG_EVERY = 50  # batches between progress lines in the log


class MultilingualFill:
    """Embeds the passages without a multilingual vector, in one background thread."""

    def __init__(self, table: MultilingualVectorTable, index: VectorIndex,
                 embedder: Callable[[], Embedder], lock: Callable[[], AbstractContextManager[None]],
                 batch: int = FILL_BATCH, before_write: Callable[[list[int]], None] | None = None,
                 exclusive: Callable[[], AbstractContextManager[bool]] | None = None) -> None:
        """`embedder` gives the passage embedder (e5's `embed`, through the embedding cache),
        called in the fill's thread: loading the model (or exporting it, the first time) is part
        of the background work. `lock` is the one writer's lock. `before_write` is called with
        each batch's ids before it is written (tests raise there to stand for a kill).
        `exclusive`: a lock tried without waiting (True if taken), so that of several processes
        on one data folder (the bot, a worker, a CLI import) only one embeds the same passages."""
        self.table = table
        self.index = index
        self.embedder = embedder
        self.lock = lock
        self.batch = batch
        self.before_write = before_write
        self.exclusive = exclusive
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.filled = 0

    def start(self) -> bool:
        """Start filling in the background unless a fill runs already; True if one started."""
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            if self._stop.is_set():
                return False
            self._thread = threading.Thread(target=self._run_logged, name="multilingual-fill", daemon=True)
            self._thread.start()
            return True

    def _run_logged(self) -> None:
        try:
            filled = self.run()
            if filled:
                log.info("multilingual vectors: %d passages embedded; the table is complete", filled)
        except Exception:
            log.exception("filling the multilingual vectors failed; retried at the next write or start")

    def run(self) -> int:
        """Fill until no passage lacks a vector (or `stop`); returns how many were written, 0
        if another process is filling."""
        if self.exclusive is None:
            return self._fill()
        with self.exclusive() as mine:
            if not mine:
                log.info("multilingual vectors: another process is filling them")
                return 0
            return self._fill()

    def _fill(self) -> int:
        written = 0
        after = 0
        embedder: Embedder | None = None
        try:
            while not self._stop.is_set():
                rows = self.table.multilingual_missing(after, self.batch)
                if not rows:
                    break
                embedder = embedder or self.embedder()
                ids = [i for i, _ in rows]
                vectors = embedder.embed([t for _, t in rows])
                if self.before_write is not None:
                    self.before_write(ids)
                written += self._write(embedder.name, ids, vectors)
                after = ids[-1]
                if written % (self.batch * _LOG_EVERY) < len(ids):
                    log.info("multilingual vectors: %d embedded, %d to go", written,
                             self.table.multilingual_missing_count())
        finally:
            if written:
                self.index.save()
        self.filled += written
        return written

    def _write(self, model: str, ids: list[int], vectors: np.ndarray) -> int:
        with self.lock():
            self.index.refresh_if_stale()
            with self.index.writing():
                result = self.table.write_multilingual(model, ids, np.asarray(vectors))
                self.index.apply(result, save=False)
        return len(result.new_vectors)

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the fill to stop after its current batch and wait; True if it is not running.
        A stopped fill does not start again (the bot is closing)."""
        self._stop.set()
        return wait_for(self._thread, timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running fill to finish; True if none runs (any more)."""
        return wait_for(self._thread, timeout)
