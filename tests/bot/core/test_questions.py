"""`Questions.ask` with passages excluded ("tell me more"): the search widens by what is
excluded, but never without bound, and the composer never sees more than `retrieve_k` hits."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import numpy as np

from bot.core.answer import Answer
from bot.core.questions import QuestionLimits, QuestionPorts, Questions
from index.retriever import ScoredPassage
from knowledge.documents import Passage, StoredPassage
from tests.factories import document_info


class Retriever:
    """As many numbered passages as asked for, best first; records each `k`."""

    def __init__(self) -> None:
        self.asked_k: list[int] = []

    def embed_query(self, text: str) -> np.ndarray:
        return np.ones(4, dtype=np.float32) / 2

    def search_vector(self, query: np.ndarray, k: int, text: str, asked_at: date | None = None) -> list[ScoredPassage]:
        self.asked_k.append(k)
        document = document_info(id="d")
        return [ScoredPassage(StoredPassage(Passage(i, "d", i, f"passage {i}", 0, 9), document), 1 - i / 1000)
                for i in range(1, k + 1)]


class Composer:
    def __init__(self) -> None:
        self.hits: list[list[int]] = []

    def compose(self, question: str, query: np.ndarray, hits: list[ScoredPassage], asked_at: date | None = None) -> Answer:
        self.hits.append([h.stored.passage.id or 0 for h in hits])
        return Answer(question)


class Ports:
    def __init__(self) -> None:
        self.retriever = Retriever()
        self.composer = Composer()

    def ensure_open(self) -> None:
        pass


def ask(excluded: frozenset[int]) -> tuple[int, list[int]]:
    ports = Ports()
    Questions(cast(QuestionPorts, cast(Any, ports)), QuestionLimits(500, 8)).ask("Why?", exclude_passages=excluded)
    return ports.retriever.asked_k[0], ports.composer.hits[0]


def test_excluded_passages_widen_the_search_and_are_never_composed() -> None:
    k, hits = ask(frozenset({1, 2, 3}))
    assert k == 11 and hits == list(range(4, 12))


def test_the_search_stays_bounded_however_many_passages_were_quoted() -> None:
    k, hits = ask(frozenset(range(1, 500)))
    assert k == 100 and hits == []
    k, hits = ask(frozenset(range(1, 40)))
    assert k == 47 and hits == list(range(40, 48))


def test_the_composer_gets_at_most_retrieve_k_hits_when_excluded_ones_were_not_found() -> None:
    k, hits = ask(frozenset({1, 1000, 1001}))
    assert k == 11 and hits == list(range(2, 10))
