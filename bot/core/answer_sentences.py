"""Vectors of the sentences answers quote, computed before anyone asks.

Composing an answer compares the question with every sentence of the best passages: about
twenty sentences, 80-120 ms of embedding on two cores, several times the rest of an answer.
Those sentences come from the knowledge base, not from users, so their vectors go into the
embedding cache (keyed by text) like passage vectors: the composer reads them from there, and
this module fills it ahead of time, for new passages in a background thread after each import
and for the whole knowledge base on `crisisbot prepare-answers`. A sentence missing from the
cache is simply embedded when an answer needs it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from index.embedder import Embedder
from index.embedding_cache import CachedEmbedder
from knowledge.sentences import split_sentences
from knowledge.store_interface import KnowledgeStore

log = logging.getLogger(__name__)

MIN_WORDS = 3  # shorter "sentences" (datelines, captions) are never quoted
_PASSAGES_PER_CHUNK = 512

Progress = Callable[[int, int], None]


def answer_sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) in `text` of each sentence an answer (or a summary) may quote."""
    spans = []
    for span in split_sentences(text):
        if len(text[span.start : span.end].split()) >= MIN_WORDS:
            spans.append((span.start, span.end))
    return spans


class AnswerSentences:
    """Fills the cache behind `embedder` (a `CachedEmbedder`) with passages' sentence vectors."""

    def __init__(self, store: KnowledgeStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self._queue: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()

    def embed(self, passage_ids: Sequence[int] | None = None, progress: Progress | None = None) -> int:
        """Embed the answer sentences of these passages (default: all) that the cache lacks;
        returns how many sentences were embedded. Stops early when the owner closes."""
        ids = self.store.passage_ids().tolist() if passage_ids is None else list(passage_ids)
        embedded = 0
        for first in range(0, len(ids), _PASSAGES_PER_CHUNK):
            if self._stopping.is_set():
                break
            texts = [text[start:end] for _, text in self.store.passage_texts(ids[first : first + _PASSAGES_PER_CHUNK])
                     for start, end in answer_sentence_spans(text)]
            embedded += self._embed_missing(texts)
            if progress:
                progress(min(first + _PASSAGES_PER_CHUNK, len(ids)), len(ids))
        return embedded

    def _embed_missing(self, texts: list[str]) -> int:
        """How many texts the model embedded: the cache's misses (approximate while answers
        embed beside it), or all of them without a cache."""
        if not texts:
            return 0
        if not isinstance(self.embedder, CachedEmbedder):
            return len(self.embedder.embed(texts))
        misses = self.embedder.misses
        self.embedder.embed(texts)
        return self.embedder.misses - misses

    def submit(self, passage_ids: Sequence[int]) -> None:
        """Embed these passages' sentences in the background (one thread, in order)."""
        if not passage_ids or self._stopping.is_set():
            return
        with self._lock:
            self._idle.clear()
            self._queue.put(list(passage_ids))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="answer-sentences", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                try:
                    ids = self._queue.get_nowait()
                except queue.Empty:
                    self._idle.set()
                    self._worker = None
                    return
            try:
                embedded = self.embed(ids)
                log.info("answer sentences of %d new passages ready (%d embedded)", len(ids), embedded)
            except Exception:  # a cache is never worth a crash; answers embed what is missing
                log.exception("embedding the answer sentences of %d passages failed", len(ids))

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the background work is done; True if it is."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop the background work after the chunk in progress; what is cached stays."""
        self._stopping.set()
        worker = self._worker
        while worker is not None and worker.is_alive():  # a chunk is bounded work: wait it out,
            worker.join(timeout=30)  # or the interpreter may exit inside the model (SIGABRT)
            if worker.is_alive():
                log.warning("still finishing a chunk of answer sentences before closing")

