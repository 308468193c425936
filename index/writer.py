"""The one writer: documents become passages and vectors, stored and indexed together.

All writes of a data folder go through here under an exclusive file lock, so two processes
cannot interleave their changes, and every batch is one store transaction: after a crash a
document is either whole (row, passages, vectors) or absent, and the index is mended from the
store the next time it is opened.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.embedder import Embedder
from index.search_index import RepairReport, SearchIndex
from knowledge.chunking import ChunkingPolicy, chunk_document
from knowledge.documents import Document
from knowledge.store import NewDocument, SqliteStore, WriteResult

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (done, total) as work advances."""

_BATCH_PASSAGES = 256
_BATCH_CHARS = _BATCH_PASSAGES * 600  # passages are about 600 characters


@dataclass
class IngestReport:
    """What an ingest did, for people: counts and the duplicates it skipped."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    passages: int = 0

    def absorb(self, result: WriteResult) -> None:
        self.added.extend(result.added)
        self.replaced.extend(d for d in result.replaced if d not in self.replaced)
        self.unchanged.extend(result.unchanged)
        self.passages += len(result.added_passage_ids)


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Exclusive across processes; released by the OS if the holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class KnowledgeWriter:
    """Adds, replaces and removes documents in the store and the index as one change."""

    def __init__(
        self,
        store: SqliteStore,
        index: SearchIndex,
        embedder: Embedder,
        lock_path: Path,
        policy: ChunkingPolicy = ChunkingPolicy(),
    ) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder
        self.lock_path = lock_path
        self.policy = policy

    def ingest(self, documents: Sequence[Document], progress: Progress | None = None) -> IngestReport:
        """Chunk, embed and store documents in batches of about 256 passages, one transaction
        each; the index file is saved once at the end (a crash before that is mended at the
        next start from the stored vectors)."""
        report = IngestReport()
        with write_lock(self.lock_path):
            self.index.refresh_if_stale()
            known = self.store.known_hashes([d.sha256 for d in documents])
            pending: list[Document] = []
            pending_chars = done = 0
            for document in documents:
                if document.sha256 in known:
                    report.unchanged.append((document.id, known[document.sha256]))
                    done += 1
                    continue
                pending.append(document)
                pending_chars += len(document.text)
                if pending_chars >= _BATCH_CHARS:
                    report.absorb(self._write(self._prepare(pending)))
                    done += len(pending)
                    pending, pending_chars = [], 0
                    if progress:
                        progress(done, len(documents))
            if pending:
                report.absorb(self._write(self._prepare(pending)))
            if progress:
                progress(len(documents), len(documents))
            if report.added or report.replaced:
                self.index.save()
        return report

    def _prepare(self, documents: list[Document]) -> list[NewDocument]:
        chunked = [chunk_document(d, self.embedder.count_tokens, self.policy) for d in documents]
        texts = [p.text for passages in chunked for p in passages]
        vectors = self.embedder.embed(texts)
        items, row = [], 0
        for document, passages in zip(documents, chunked):
            items.append(NewDocument(document, passages, vectors[row : row + len(passages)]))
            row += len(passages)
        return items

    def _write(self, items: list[NewDocument]) -> WriteResult:
        result = self.store.write_documents(items, self.embedder.name)
        self.index.apply(result, save=False)
        return result

    def remove(self, document_id: str) -> int:
        """Remove a document with its passages and vectors; returns the passage count."""
        with write_lock(self.lock_path):
            self.index.refresh_if_stale()
            result = self.store.remove_document(document_id)
            self.index.apply(result, save=True)
        return len(result.removed_passage_ids)

    def reindex(self, progress: Progress | None = None) -> RepairReport:
        """Embed every passage again with the current model, then rebuild the index."""
        with write_lock(self.lock_path):
            ids_and_texts = list(self.store.passage_texts())
            total = len(ids_and_texts)

            def batches() -> Iterator[tuple[list[int], np.ndarray]]:
                for first in range(0, total, _BATCH_PASSAGES):
                    chunk = ids_and_texts[first : first + _BATCH_PASSAGES]
                    yield [i for i, _ in chunk], self.embedder.embed([t for _, t in chunk])
                    if progress:
                        progress(min(first + _BATCH_PASSAGES, total), total)

            self.store.replace_embeddings(self.embedder.name, batches())
            if progress and total == 0:
                progress(0, 0)
            return self.index.rebuild()
