"""The composer's own rules, on a hashing embedder: which accepted passages it quotes from."""

from __future__ import annotations

from datetime import date

from bot.core.composer import AnswerComposer, AnswerPolicy
from bot.core.relevance import GatePolicy
from index.retriever import ScoredPassage
from knowledge.documents import Passage, StoredPassage
from tests.factories import document_info
from tests.fakes import HashingEmbedder


def hit(number: int, text: str, score: float, published: str) -> ScoredPassage:
    document = document_info(id=f"d{number}", title="Summit report", published=published)
    return ScoredPassage(StoredPassage(Passage(number, document.id, 0, text, 0, len(text)), document), score)


def test_a_source_published_after_the_day_asked_answers_only_when_nothing_older_does() -> None:
    embedder = HashingEmbedder()
    question = "What did the leaders pledge at the summit in Vilnius?"
    later = hit(1, "The leaders at the summit in Vilnius pledged new air defence systems for Ukraine.", 0.7, "2023-07-20")
    earlier = hit(2, "At the summit in Vilnius the leaders pledged more air defence for Ukraine.", 0.6, "2023-07-11")
    composer = AnswerComposer(embedder, AnswerPolicy(relevance=GatePolicy(threshold=0.0), candidate_passages=1))
    query = embedder.embed([question])[0]
    on_the_day = composer.compose(question, query, [later, earlier], asked_at=date(2023, 7, 12))
    assert [s.document.id for s in on_the_day.sources] == ["d2"]
    afterwards = composer.compose(question, query, [later, earlier], asked_at=date(2023, 7, 21))
    assert [s.document.id for s in afterwards.sources] == ["d1"]
    only_later = composer.compose(question, query, [later], asked_at=date(2023, 7, 12))
    assert [s.document.id for s in only_later.sources] == ["d1"]
