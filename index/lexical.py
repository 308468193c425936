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

from index.background import SLOW_BUILD_SECONDS, Refresher
from index.bm25 import Bm25Builder, Bm25Matrix, QuestionTokenizer
from index.interfaces import LexicalScores
from knowledge.store_interface import KnowledgeStore

log = logging.getLogger(__name__)

READ_CHUNK = 4096
"""Passages read from the store and tokenized at a time: the build holds one chunk's words
(tens of MB), not every text of the knowledge base."""


@dataclass(frozen=True)
class LexicalPolicy:
    """Okapi BM25 (Lucene's variant) with English stop words and the Snowball stemmer.
    k1 = 1.2, b = 0.75 measured best of the six pairs tried on the dev sets (README)."""

    k1: float = 1.2
    b: float = 0.75


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
        stems = self._question_tokenizer().stems(question)
        return LexicalScores(matrix.ids, matrix.scores(stems), idf=matrix.idf(stems))
