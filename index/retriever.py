"""A question becomes the passages most like it, each with its document and a cosine score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.embedder import Embedder
from index.search_index import SearchIndex
from knowledge.documents import StoredPassage
from knowledge.store import SqliteStore


@dataclass(frozen=True)
class ScoredPassage:
    """A retrieved passage; `score` is the cosine similarity of passage and question."""

    stored: StoredPassage
    score: float


class Retriever:
    """Dense retrieval over the store's passages."""

    def __init__(self, store: SqliteStore, index: SearchIndex, embedder: Embedder) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder

    def embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed([text])[0]

    def search(self, text: str, k: int) -> list[ScoredPassage]:
        return self.search_vector(self.embed_query(text), k)

    def search_vector(self, vector: np.ndarray, k: int) -> list[ScoredPassage]:
        hits = self.index.search(vector, k)
        stored = self.store.stored_passages([passage_id for passage_id, _ in hits])
        # A passage removed by another process between search and fetch is simply skipped.
        return [ScoredPassage(stored[i], score) for i, score in hits if i in stored]
