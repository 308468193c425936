"""The multilingual half of retrieval: multilingual-e5-small beside all-MiniLM-L6-v2.

MiniLM was trained on English only: a Ukrainian or Russian question lands near nothing in
particular (nDCG@10 about 0.08 on the cross-lingual dev set). e5 places a question and a
passage with the same meaning close together whatever their languages. The retriever adds its
z-scored cosine to MiniLM's and BM25's, and drops MiniLM's for a question that is not English,
whose MiniLM cosines are noise.

The half is used only once every passage has its e5 vector (`complete`): a knowledge base
whose table is still being filled in the background would otherwise rank the passages that
have one above those that do not, for no reason but the order of the fill.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from index.background import Refresher
from index.dense_scale import DenseScale
from index.embedder import Embedder
from index.interfaces import VectorIndex
from knowledge.multilingual_store import MultilingualVectorTable


class MultilingualRetrieval:
    """The e5 index, e5's question embedder, and the statistics fusion needs of its cosines."""

    def __init__(self, table: MultilingualVectorTable, index: VectorIndex, questions: Embedder,
                 on_incomplete: Callable[[], object] | None = None) -> None:
        """`questions` embeds questions ("query: "; e5's `questions()`), never through the
        embedding cache. `on_incomplete` is called when the table is found incomplete at a
        new generation (the bot starts the background fill there)."""
        self.table = table
        self.source = table.multilingual()
        self.index = index
        self.questions = questions
        self.on_incomplete = on_incomplete
        self._scale = Refresher(self._measure_scale, "multilingual vector statistics")
        self._complete = Refresher(self._measure_complete, "multilingual completeness")

    def _measure_scale(self, generation: int) -> DenseScale:
        return DenseScale.measure(self.source, generation, self.index.dimension)

    def _measure_complete(self, generation: int) -> bool:
        missing = self.table.multilingual_missing_count()
        if missing and self.on_incomplete is not None:
            self.on_incomplete()
        return missing == 0

    def complete(self) -> bool:
        """Whether every passage has its multilingual vector (checked once per generation)."""
        return self._complete.get(self.source.generation())

    def embed_questions(self, texts: list[str]) -> np.ndarray:
        return self.questions.embed(texts)

    def search(self, vector: np.ndarray, k: int) -> dict[int, float]:
        return dict(self.index.search(vector, k))

    def add_cosines(self, cosines: dict[int, float], ids: list[int], vector: np.ndarray) -> None:
        """The cosines of the passages among `ids` that the search did not return."""
        missing = [i for i in ids if i not in cosines]
        if missing:
            found, vectors = self.source.existing_vectors(missing, len(vector))
            cosines.update(zip(found.tolist(), (vectors @ vector).tolist()))

    def z(self, vector: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        return self._scale.get(self.source.generation()).z(vector, cosines)

    def wait_for_builds(self, timeout: float | None = None) -> bool:
        done = self._scale.wait_for_build(timeout)
        return self._complete.wait_for_build(timeout) and done
