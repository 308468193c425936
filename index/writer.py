"""The one writer: documents become passages and vectors, stored and indexed together.

All writes of a knowledge base go through here under one exclusive lock (a file lock in the
data folder, or a PostgreSQL advisory lock when processes share a database), so two processes
cannot interleave their changes, and every batch is one store transaction: after a crash a
document is either whole (row, passages, vectors) or absent, and the index is mended from the
store the next time it is opened.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.embedder import Embedder
from index.interfaces import RepairReport, VectorIndex
from knowledge.chunking import ChunkingPolicy, chunk_document
from knowledge.crash_test_hook import crash_test_point
from knowledge.documents import Document, Kind
from knowledge.store_interface import KnowledgeStore, NewDocument, WriteResult

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (done, total) as work advances."""

_BATCH_PASSAGES = 256
_BATCH_CHARS = _BATCH_PASSAGES * 600  # passages are about 600 characters

NEAR_DUPLICATE_COSINE = 0.95
"""A new passage this close to a passage of a stored document says the same thing."""
NEAR_DUPLICATE_SHARE = 0.8
"""The share of a new document's passages that must match ONE stored document for the new
one to count as its copy (a syndicated article with a new headline or an extra sentence)."""
NEAR_DUPLICATE_MIN_WORDS = 40
"""Shorter documents are never skipped as copies: a short statement can differ from another by
the one word that matters ("no" for "some", a number), which cosine barely sees."""
NEAR_DUPLICATE_TEXT_SHARE = 0.8
"""The share of a new document's five-word runs that must also occur in the original. Vectors
alone are not enough: two daily war briefings of one newspaper embed at cosine >= 0.95
passage by passage while eight of nine paragraphs are new (news-2022, Guardian "what we know
on day 163/164"); a syndicated copy repeats the words themselves."""
_NEAR_DUPLICATE_K = 4
_SHINGLE = 5
_WORD = re.compile(r"\w+")


@dataclass
class IngestReport:
    """What an ingest did, for people: counts and the duplicates it skipped."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    near_duplicates: list[tuple[str, str]] = field(default_factory=list)  # (new id, stored id)
    passages: int = 0
    passage_ids: list[int] = field(default_factory=list)  # of the passages written

    def absorb(self, result: WriteResult) -> None:
        self.added.extend(result.added)
        self.replaced.extend(d for d in result.replaced if d not in self.replaced)
        self.unchanged.extend(result.unchanged)
        self.passages += len(result.added_passage_ids)
        self.passage_ids.extend(result.added_passage_ids)


WriteLock = Callable[[], AbstractContextManager[None]]
"""Makes the context that holds the one writer's lock (a file lock, or PostgreSQL's advisory lock)."""


@dataclass(frozen=True)
class MultilingualPart:
    """With multilingual retrieval on: the passage embedder of the multilingual model (through
    the embedding cache) and the FAISS copy of its vectors, written beside the passages'."""

    embedder: Embedder
    index: VectorIndex


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
        store: KnowledgeStore,
        index: VectorIndex,
        embedder: Embedder,
        lock: Path | WriteLock,
        policy: ChunkingPolicy = ChunkingPolicy(),
        multilingual: MultilingualPart | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder
        self._lock = lock
        self.policy = policy
        self.multilingual = multilingual

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Both copies (MiniLM's, and the multilingual one when on) hold still for a write."""
        with self.index.writing():
            if self.multilingual is None:
                yield
            else:
                with self.multilingual.index.writing():
                    yield

    def _apply(self, result: WriteResult, save: bool) -> None:
        self.index.apply(result, save=save)
        if self.multilingual is not None:
            self.multilingual.index.apply(result.multilingual_part(), save=save)

    def _save(self) -> None:
        self.index.save()
        if self.multilingual is not None:
            self.multilingual.index.save()

    def _refresh_if_stale(self) -> None:
        self.index.refresh_if_stale()
        if self.multilingual is not None:
            self.multilingual.index.refresh_if_stale()

    def lock(self) -> AbstractContextManager[None]:
        """The one writer's lock: held by whoever changes the knowledge, in any process."""
        return write_lock(self._lock) if isinstance(self._lock, Path) else self._lock()

    def ingest(self, documents: Sequence[Document], progress: Progress | None = None) -> IngestReport:
        """Chunk, embed and store documents in batches of about 256 passages, one transaction
        each; the index file is saved once at the end (a crash before that is mended at the
        next start from the stored vectors)."""
        report = IngestReport()
        with self.lock():
            self._refresh_if_stale()
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
                    self._write_new(self._prepare(pending), report)
                    done += len(pending)
                    pending, pending_chars = [], 0
                    if progress:
                        progress(done, len(documents))
            if pending:
                self._write_new(self._prepare(pending), report)
            if progress:
                progress(len(documents), len(documents))
            if report.added or report.replaced:
                crash_test_point("writer.save.before")
                self._save()
                crash_test_point("writer.save.after")
        return report

    def _prepare(self, documents: list[Document]) -> list[NewDocument]:
        chunked = [chunk_document(d, self.embedder.count_tokens, self.policy) for d in documents]
        texts = [p.text for passages in chunked for p in passages]
        vectors = self.embedder.embed(texts)
        second, model = None, ""
        if self.multilingual is not None:
            second, model = self.multilingual.embedder.embed(texts), self.multilingual.embedder.name
        crash_test_point("writer.embedded")
        items, row = [], 0
        for document, passages in zip(documents, chunked):
            end = row + len(passages)
            items.append(NewDocument(document, passages, vectors[row:end],
                                     None if second is None else second[row:end], model))
            row = end
        return items

    def _write_new(self, items: list[NewDocument], report: IngestReport) -> None:
        """Write the items that are not near-duplicates of a stored or an earlier new document."""
        kept: list[NewDocument] = []
        for item in items:
            original = None
            if len(item.document.text.split()) >= NEAR_DUPLICATE_MIN_WORDS:
                original = self._stored_original(item)
                if original is not None and not repeats_text(
                    item.document.text, self.store.document_text(original)
                ):
                    original = None
                if original is None:
                    original = _batch_original(item, kept)
            if original is None:
                kept.append(item)
                continue
            report.near_duplicates.append((item.document.id, original))
            log.info(
                "skipped %s: a near-duplicate (syndicated copy) of %s", item.document.id, original
            )
        if kept:
            report.absorb(self._write(kept))

    def _stored_original(self, item: NewDocument) -> str | None:
        """The stored document most of this one's passages nearly repeat, if there is one.

        Each passage's closest stored passages come from the vector index; the document's own
        earlier version (same id or URL, which this one replaces) is never its original.
        """
        if len(item.vectors) == 0:
            return None
        hits: list[list[tuple[int, float]]] = [
            [(pid, score) for pid, score in row if score >= NEAR_DUPLICATE_COSINE]
            for row in self.index.search_many(np.asarray(item.vectors), _NEAR_DUPLICATE_K)
        ]
        ids = sorted({pid for row in hits for pid, _ in row})
        if not ids:
            return None
        stored = self.store.stored_passages(ids)
        matched: dict[str, int] = {}
        for row in hits:
            owners = {stored[pid].document for pid, _ in row if pid in stored}
            for owner in owners:
                if not _same_source(item.document, owner.id, owner.url):
                    matched[owner.id] = matched.get(owner.id, 0) + 1
        return _most_matched(matched, len(item.passages))

    def _write(self, items: list[NewDocument]) -> WriteResult:
        with self._writing():
            result = self.store.write_documents(items, self.embedder.name)
            self._apply(result, save=False)
        crash_test_point("writer.applied")
        return result

    def remove(self, document_id: str) -> int:
        """Remove a document with its passages and vectors; returns the passage count."""
        with self.lock():
            self._refresh_if_stale()
            with self._writing():
                result = self.store.remove_document(document_id)
                self._apply(result, save=True)
        return len(result.removed_passage_ids)

    def set_kind(self, document_id: str, kind: Kind) -> WriteResult:
        """Say what sort of source a document is. Passages and vectors stay as they are, but
        the store's generation moves, so the change goes through the lock and the index like
        any write: the index then keeps up with the store instead of taking the moved
        generation for another process's write and comparing every id at the next search."""
        with self.lock():
            self._refresh_if_stale()
            with self._writing():
                result = self.store.set_kind(document_id, kind)
                self._apply(result, save=True)  # only the generation moves
        return result

    def reindex(self, progress: Progress | None = None) -> RepairReport:
        """Embed every passage again with the current model, then rebuild the index."""
        with self.lock():
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


def _same_source(document: Document, other_id: str, other_url: str | None) -> bool:
    """Whether `document` replaces the other (same id or URL) rather than copying it."""
    return other_id == document.id or (document.url is not None and other_url == document.url)


def _most_matched(matched: dict[str, int], passages: int) -> str | None:
    if not matched or passages == 0:
        return None
    best = max(sorted(matched), key=lambda doc_id: matched[doc_id])
    return best if matched[best] >= NEAR_DUPLICATE_SHARE * passages else None


def _batch_original(item: NewDocument, earlier: Sequence[NewDocument]) -> str | None:
    """An earlier document of the same batch (not yet indexed) that this one nearly repeats.

    An exact copy (same text) is left to the store, which reports it as unchanged.
    """
    if len(item.vectors) == 0:
        return None
    matched: dict[str, int] = {}
    for other in earlier:
        if other.document.sha256 == item.document.sha256 or len(other.vectors) == 0:
            continue
        if not repeats_text(item.document.text, other.document.text):
            continue
        if _same_source(item.document, other.document.id, other.document.url):
            continue
        best = (np.asarray(item.vectors) @ np.asarray(other.vectors).T).max(axis=1)
        matched[other.document.id] = int((best >= NEAR_DUPLICATE_COSINE).sum())
    return _most_matched(matched, len(item.passages))


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + _SHINGLE]) for i in range(max(1, len(words) - _SHINGLE + 1))}


def repeats_text(text: str, original: str) -> bool:
    """Whether most of `text`'s five-word runs also occur in `original` (a copy, not a story
    on the same subject)."""
    runs = _shingles(text)
    return len(runs & _shingles(original)) >= NEAR_DUPLICATE_TEXT_SHARE * len(runs)
