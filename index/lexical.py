"""BM25 over passage titles and texts: the lexical half of hybrid search.

A bi-encoder blurs rare names, numbers and exact terms ("ATACMS", "Zaporizhzhia", "Kursk") into
their topic; BM25 ranks a passage that contains them. The matrix (index.bm25) is rebuilt from
the store when the store's generation moves (another process or this one wrote), at the next
question rather than inside the write. While rebuilding is cheap the question waits for it;
once a build has been slow (100,000 passages take about 8 s, a million about 80 s) the rebuild
runs in the background and questions are answered from the previous build meanwhile
(index.background). A passage removed since that build may still score; the retriever reads
every candidate from the store and drops the ones that are gone. A passage added since simply
has no lexical score until the new build is swapped in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.background import SLOW_BUILD_SECONDS, Refresher
from index.bm25 import Bm25Builder, Bm25Matrix, QuestionTokenizer
from knowledge.store_interface import KnowledgeStore

log = logging.getLogger(__name__)

_TOP_STRIDE = 32  # LexicalScores.top bounds the best scores by a sample of every 32nd

READ_CHUNK = 4096
"""Passages read from the store and tokenized at a time: the build holds one chunk's words
(tens of MB), not every text of the knowledge base."""


@dataclass(frozen=True)
class LexicalPolicy:
    """Okapi BM25 (Lucene's variant) with English stop words and the Snowball stemmer.
    k1 = 1.2, b = 0.75 measured best of the six pairs tried on the dev sets (README)."""

    k1: float = 1.2
    b: float = 0.75


@dataclass(frozen=True)
class LexicalScores:
    """Lexical scores of one question (`ids[i]` scores `scores[i]`, ids ascending).

    `ids` may list only the passages that match (PostgreSQL's text search); the other passages
    of the `total` score 0, and the mean and spread that fusion needs count them too.
    """

    ids: np.ndarray
    scores: np.ndarray
    total: int | None = None  # passages in the knowledge base; None: `ids` lists them all

    @property
    def passages(self) -> int:
        return len(self.ids) if self.total is None else max(self.total, len(self.ids))

    def mean_and_spread(self) -> tuple[float, float]:
        """Mean and standard deviation over every passage (1.0 for a spread of 0)."""
        n = self.passages
        if n == 0:
            return 0.0, 1.0
        scores = self.scores  # summed in float64 without a float64 copy (4x faster at 1M)
        mean = float(scores.sum(dtype=np.float64)) / n
        squares = float(np.einsum("i,i->", scores, scores, dtype=np.float64))
        variance = max(squares / n - mean * mean, 0.0)
        return mean, (float(np.sqrt(variance)) or 1.0)

    def top(self, n: int) -> np.ndarray:
        """Ids of the `n` best-scoring passages that match at least one term."""
        if len(self.ids) == 0 or n <= 0:
            return np.empty(0, dtype=np.int64)
        n = min(n, len(self.ids))
        scores = self.scores
        within = self._at_least_the_best(n)
        if within is not None:
            best = within[np.argpartition(-scores[within], n - 1)[:n]]
        else:
            best = np.argpartition(-scores, n - 1)[:n]
        best = best[scores[best] > 0]
        return self.ids[best[np.argsort(-scores[best], kind="stable")]]

    def _at_least_the_best(self, n: int) -> np.ndarray | None:
        """Positions of a few times `n` scores that surely include the best `n`, or None when
        there are too few scores for that to pay. The `n`-th best of every 32nd score is a
        bound: at least `n` scores reach it, so the best `n` all do. Selecting among those is
        cheaper than partitioning a million scores (0.6 ms against 2.5 ms)."""
        scores = self.scores
        if len(scores) < _TOP_STRIDE * 4 * n:
            return None
        sample = scores[::_TOP_STRIDE]
        bound = np.partition(sample, len(sample) - n)[len(sample) - n]
        return np.flatnonzero(scores >= bound) if bound > 0 else None


class LexicalIndex:
    """In-memory BM25 of one store, rebuilt whenever the store has changed (see the module)."""

    def __init__(
        self, store: KnowledgeStore, policy: LexicalPolicy = LexicalPolicy(),
        slow_after: float = SLOW_BUILD_SECONDS, before_swap: Callable[[], None] | None = None,
    ) -> None:
        """`slow_after`: seconds of build after which rebuilds move to the background (0: every
        rebuild after the first). `before_swap`: called in the builder thread just before a
        background build is swapped in (tests hold a build there)."""
        self.store = store
        self.policy = policy
        self._matrix = Refresher(self._build, "lexical index", slow_after, before_swap)
        self._tokenizers = threading.local()

    def _build(self, generation: int) -> Bm25Matrix:
        """Read every passage in id order, chunk by chunk. Writes made meanwhile may or may not
        be seen; either way the generation has moved past `generation`, so the next question
        starts another build."""
        started = time.perf_counter()
        builder = Bm25Builder(self.policy.k1, self.policy.b)
        after = 0
        while True:
            rows = self.store.titled_passage_texts(after=after, limit=READ_CHUNK)
            if rows:
                builder.add([r[0] for r in rows], [f"{title}\n{text}" for _, title, text in rows])
                after = rows[-1][0]
            if len(rows) < READ_CHUNK:
                break
        matrix = builder.finish()
        log.info("lexical index of %d passages built in %.2f s (%.0f MiB)", len(matrix.ids),
                 time.perf_counter() - started, matrix.nbytes / 2**20)
        return matrix

    def _question_tokenizer(self) -> QuestionTokenizer:
        tokenizer: QuestionTokenizer | None = getattr(self._tokenizers, "tokenizer", None)
        if tokenizer is None:
            tokenizer = self._tokenizers.tokenizer = QuestionTokenizer()
        return tokenizer

    def current_build(self) -> Bm25Matrix:
        """The matrix questions are answered from now (rebuilding first if that is cheap)."""
        return self._matrix.get(self.store.generation())

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Wait for a background rebuild; True if none is running (any more)."""
        return self._matrix.wait_for_build(timeout)

    def scores(self, question: str) -> LexicalScores:
        matrix = self.current_build()
        return LexicalScores(matrix.ids, matrix.scores(self._question_tokenizer().stems(question)))
