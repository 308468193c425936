"""What the core needs of a knowledge store, whichever backend holds it.

`SqliteStore` (embedded, one data folder) and `PostgresStore` (shared by several processes)
both provide it; everything above `knowledge/` is written against this interface only. The
values a store takes and returns live here too, so that the interface imports no backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from knowledge.documents import Document, DocumentInfo, Kind, Passage, StoredPassage


@dataclass(frozen=True)
class NewDocument:
    """A document ready to be written: its passages and one vector per passage, and with
    multilingual retrieval on, one vector per passage of the multilingual model too (written in
    the same transaction, so a passage never lacks it because of a crash)."""

    document: Document
    passages: list[Passage]
    vectors: np.ndarray
    multilingual_vectors: np.ndarray | None = None
    multilingual_model: str = ""


@dataclass
class WriteResult:
    """What a write changed; the index applies exactly these changes."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)  # (new id, existing id)
    removed_passage_ids: list[int] = field(default_factory=list)
    new_vectors: dict[int, np.ndarray] = field(default_factory=dict)  # passage id -> vector
    generation: int = 0
    # The multilingual vectors written beside (passage id -> vector), and the generation of
    # the multilingual table after this write (see knowledge.multilingual_store).
    new_multilingual_vectors: dict[int, np.ndarray] = field(default_factory=dict)
    multilingual_generation: int = 0

    @property
    def added_passage_ids(self) -> list[int]:
        return list(self.new_vectors)

    @property
    def added_vectors(self) -> list[np.ndarray]:
        return list(self.new_vectors.values())

    def forget_passages(self, passage_ids: list[int]) -> None:
        """Passages deleted by this write: ones it added itself simply vanish from the result."""
        for passage_id in passage_ids:
            self.new_multilingual_vectors.pop(passage_id, None)
            if self.new_vectors.pop(passage_id, None) is None:
                self.removed_passage_ids.append(passage_id)

    def multilingual_part(self) -> WriteResult:
        """The same write as the multilingual index sees it: its vectors, its generation."""
        return WriteResult(removed_passage_ids=list(self.removed_passage_ids),
                           new_vectors=dict(self.new_multilingual_vectors),
                           generation=self.multilingual_generation)


class VectorSource(Protocol):
    """Stored vectors that a FAISS copy is built and mended from: the passages' own, or the
    multilingual table's (`knowledge.multilingual_store.MultilingualVectors`)."""

    def generation(self) -> int: ...
    def passage_count(self) -> int: ...
    def passage_ids(self) -> np.ndarray: ...
    def existing_vectors(self, ids: Sequence[int], dimension: int) -> tuple[np.ndarray, np.ndarray]: ...
    def embedding_model(self) -> str | None: ...


class KnowledgeStore(Protocol):
    def close(self) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def advance_meta(self, key: str, value: str) -> bool: ...
    def generation(self) -> int: ...
    def write_documents(self, items: Sequence[NewDocument], model: str) -> WriteResult: ...
    def remove_document(self, document_id: str) -> WriteResult: ...
    def set_kind(self, document_id: str, kind: Kind) -> WriteResult: ...
    def replace_embeddings(self, model: str, batches: Iterator[tuple[list[int], np.ndarray]]) -> int: ...
    def embedding_model(self) -> str | None: ...
    def known_hashes(self, hashes: Sequence[str]) -> dict[str, str]: ...
    def document_count(self) -> int: ...
    def passage_count(self) -> int: ...
    def documents_added_by_week(self, since: str) -> dict[str, int]: ...
    def passage_ids(self) -> np.ndarray: ...
    def passage_texts(self, ids: Sequence[int] | None = None) -> Iterator[tuple[int, str]]: ...
    def titled_passage_texts(self, after: int = 0, limit: int | None = None) -> list[tuple[int, str, str]]: ...
    def vectors(self, ids: Sequence[int], dimension: int) -> np.ndarray: ...
    def existing_vectors(self, ids: Sequence[int], dimension: int) -> tuple[np.ndarray, np.ndarray]: ...
    def stored_passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]: ...
    def passage_ids_where(
        self, since: str | None = None, until: str | None = None, added_since: str | None = None,
        added_before: str | None = None,
    ) -> list[int]: ...
    def documents(self) -> list[DocumentInfo]: ...
    def documents_page(
        self, offset: int, limit: int, publisher: str | None = None, kind: Kind | None = None,
        since: str | None = None, until: str | None = None,
    ) -> tuple[list[DocumentInfo], int]: ...
    def document_info(self, document_id: str) -> DocumentInfo: ...
    def first_passage_text(self, document_id: str) -> str: ...
    def document_text(self, document_id: str) -> str: ...
