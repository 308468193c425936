"""What multilingual retrieval adds to a bot, built from the settings on first use.

multilingual-e5-small (index.e5_embedder) embeds each passage a second time, beside MiniLM,
into the store's multilingual table (knowledge.multilingual_store) and its own FAISS copy;
the retriever fuses its cosines with MiniLM's and BM25's (index.retriever). A knowledge base
that lacks the vectors is filled in the background (index.multilingual_fill); until it is
complete, questions are answered without the multilingual half.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.runtime.backends import Backend, try_file_lock
from bot.runtime.settings import Settings
from index.embedder import Embedder
from index.embedding_cache import CachedEmbedder, EmbeddingCache
from index.interfaces import VectorIndex
from index.multilingual import MultilingualRetrieval
from index.multilingual_fill import MultilingualFill
from index.writer import MultilingualPart, WriteLock
from knowledge.store_interface import KnowledgeStore

if TYPE_CHECKING:
    from index.e5_embedder import E5OnnxEmbedder

E5_DIMENSION = 384  # multilingual-e5-small's; the index opens without loading the model


class MultilingualParts:
    """The e5 model, its FAISS copy, the background fill and the retriever's half."""

    def __init__(self, settings: Settings, backend: Backend, store: KnowledgeStore, model_dir: Path,
                 cache: Callable[[], EmbeddingCache | None], lock: WriteLock) -> None:
        """`model_dir`: where e5's ONNX export lives (beside MiniLM's, so `crisisbot eval`
        reuses it); `cache`: the embedding cache for passages, if on."""
        from knowledge.store import SqliteStore

        assert isinstance(store, SqliteStore), "the settings refuse multilingual retrieval on PostgreSQL"
        self.settings = settings
        self.backend = backend
        self.store = store
        self.model_dir = model_dir
        self._cache = cache
        self._lock = lock
        self._model_lock = threading.Lock()
        self._model: E5OnnxEmbedder | None = None

    def model(self) -> E5OnnxEmbedder:
        """Opened (exported the first time, about 20 s) when first needed, in any thread."""
        with self._model_lock:
            if self._model is None:
                from index.e5_onnx_export import open_e5_embedder

                self._model = open_e5_embedder(self.model_dir, quantized=self.settings.multilingual_quantize)
            return self._model

    def passages(self) -> Embedder:
        """e5 for passages, through the embedding cache when it is on."""
        cache = self._cache()
        return self.model() if cache is None else CachedEmbedder(self.model(), cache)

    @cached_property
    def _passage_embedder(self) -> Embedder:
        return _LazyEmbedder(self.passages)

    @cached_property
    def index(self) -> VectorIndex:
        from index.e5_embedder import E5_MODEL_NAME

        return self.backend.open_multilingual_index(self.store, E5_MODEL_NAME, E5_DIMENSION)

    @cached_property
    def fill(self) -> MultilingualFill:
        folder = self.settings.data_dir
        return MultilingualFill(self.store, self.index, self.passages, self._lock,
                                exclusive=lambda: try_file_lock(folder / "multilingual-fill.lock"))

    @cached_property
    def retrieval(self) -> MultilingualRetrieval:
        return MultilingualRetrieval(self.store, self.index, _LazyEmbedder(lambda: self.model().questions()),
                                     on_incomplete=self.fill.start)

    def writing(self) -> MultilingualPart:
        """What the writer needs to write e5 vectors with every new passage."""
        return MultilingualPart(self._passage_embedder, self.index)

    def open(self) -> None:
        """Mend the FAISS copy, and start filling the vectors the store lacks (if any)."""
        self.index.refresh_if_stale()
        if self.store.multilingual_missing_count():
            self.fill.start()

    def fill_now(self) -> int:
        """Fill in this thread (after any background fill), for `crisisbot eval`."""
        self.fill.wait()
        return self.fill.run()

    def close(self, timeout: float) -> bool:
        """Stop the fill after its batch; True if it stopped in time."""
        return "fill" not in self.__dict__ or self.fill.stop(timeout)


class _LazyEmbedder:
    """An `Embedder` that opens its model at the first text, so that building a writer or a
    retriever does not load e5 when no passage or question needs it yet."""

    def __init__(self, make: Callable[[], Embedder]) -> None:
        from index.e5_embedder import E5_MODEL_NAME

        self._make = make
        self._inner: Embedder | None = None
        self.dimension = E5_DIMENSION
        self.name = E5_MODEL_NAME

    def _embedder(self) -> Embedder:
        if self._inner is None:
            self._inner = self._make()
            self.name = self._inner.name
        return self._inner

    def count_tokens(self, text: str) -> int:
        return self._embedder().count_tokens(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._embedder().embed(texts)
