"""The composer's own rules, on a hashing embedder: which accepted passages it quotes from."""

from __future__ import annotations

from datetime import date

from bot.core.composer import AnswerComposer, AnswerPolicy
from bot.core.relevance import GatePolicy
from index.retriever import ScoredPassage
from knowledge.documents import Passage, StoredPassage
from knowledge.errors import StoreError
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


def test_a_passage_below_the_threshold_is_quoted_only_beside_one_above_it() -> None:
    embedder = HashingEmbedder()
    question = "What did the leaders pledge at the summit in Vilnius?"
    strong = hit(1, "At the summit in Vilnius the leaders pledged more air defence for Ukraine.", 0.7, "2023-07-11")
    weak = hit(2, "The pledge included air defence and a path to membership.", 0.5, "2023-07-11")
    query = embedder.embed([question])[0]

    def compose(threshold: float, floor: float) -> list[bool]:
        composer = AnswerComposer(embedder, AnswerPolicy(relevance=GatePolicy(threshold, floor)))
        return [c.accepted for c in composer.compose(question, query, [strong, weak]).explanation.candidates]

    probe = AnswerComposer(embedder, AnswerPolicy(relevance=GatePolicy(threshold=1.0, quote_floor=1.0)))
    p_strong, p_weak = (c.probability for c in probe.compose(question, query, [strong, weak]).explanation.candidates)
    assert p_strong > p_weak
    between = (p_strong + p_weak) / 2
    assert compose(between, p_weak - 0.01) == [True, True]  # answered: the weaker passage may join
    assert compose(between, p_weak + 0.01) == [True, False]
    assert compose(p_strong + 0.01, 0.0) == [False, False]  # nothing passes: no answer, however low the floor


def test_a_passage_that_names_no_place_is_read_in_the_setting_of_its_document() -> None:
    """The composer reads the paragraphs before a passage through `document_text` (the store's)."""
    embedder = HashingEmbedder()
    opening = "Russian troops overran the city of Kreminna on Tuesday.\n\n"
    toll = "Officials said about 200 civilians had been killed in the fighting."
    document = document_info(id="d-k", title="War report", published="2022-04-19")
    passage = ScoredPassage(StoredPassage(Passage(7, "d-k", 1, toll, len(opening), len(opening) + len(toll)),
                                          document), 0.7)
    texts = {"d-k": opening + toll}
    composer = AnswerComposer(embedder, AnswerPolicy(relevance=GatePolicy(threshold=0.0)), document_text=texts.__getitem__)
    for question, answered in (("How many civilians were killed in Bucha?", False),
                               ("How many civilians were killed in Kreminna?", True)):
        answer = composer.compose(question, embedder.embed([question])[0], [passage])
        assert bool(answer.quotes) is answered, question
    gone = AnswerComposer(embedder, AnswerPolicy(relevance=GatePolicy(threshold=0.0)),
                          document_text=lambda _: (_ for _ in ()).throw(StoreError("no document")))
    question = "How many civilians were killed in Bucha?"
    # A document removed meanwhile: nothing says where the passage is set, the benefit of the doubt.
    assert gone.compose(question, embedder.embed([question])[0], [passage]).quotes
