from __future__ import annotations

import pytest

from bot.core.relevance import QuestionRelevance, RelevancePolicy, content_terms


def test_content_terms_drop_stopwords_and_strip_plurals() -> None:
    assert content_terms("How many North Korean troops were sent to Russia?") == {
        "north", "korean", "troop", "sent", "russia"
    }


@pytest.mark.parametrize(
    ("question", "passage", "score", "accepted"),
    [
        # above the threshold and sharing a content word
        ("How many troops did North Korea send?", "At least 10,000 North Korean troops arrived.", 0.6, True),
        # above the threshold but about something else entirely
        ("Why is the sky blue?", "Putin greeted the tennis players in St Petersburg.", 0.6, False),
        # below the threshold, no shared phrase
        ("What does peace mean?", "Peace through strength was his philosophy.", 0.3, False),
        # below the threshold, but the question's phrase stands verbatim in the passage
        ("What is peace through strength?", "his philosophy of 'peace through strength.'", 0.27, True),
        # below even the phrase floor
        ("What is peace through strength?", "his philosophy of 'peace through strength.'", 0.2, False),
    ],
)
def test_accepts(question: str, passage: str, score: float, accepted: bool) -> None:
    assert QuestionRelevance(question).accepts(score, passage, "") is accepted


def test_title_counts_as_passage_text() -> None:
    gate = QuestionRelevance("What happened at Azovstal?")
    assert not gate.accepts(0.5, "The defenders held out for weeks.", "Mariupol")
    assert gate.accepts(0.5, "The defenders held out for weeks.", "Inside the Azovstal siege")


def test_a_question_of_stopwords_only_is_judged_by_score_alone() -> None:
    gate = QuestionRelevance("What is it?", RelevancePolicy(min_score=0.45))
    assert gate.accepts(0.5, "Anything at all.", "")
    assert not gate.accepts(0.4, "Anything at all.", "")


@pytest.mark.parametrize(
    ("plural", "singular"),
    [("troops", "troop"), ("missiles", "missile"), ("strikes", "strike"), ("cities", "city"),
     ("taxes", "tax"), ("marches", "march"), ("prices", "price")],
)
def test_plurals_meet_their_singulars(plural: str, singular: str) -> None:
    assert content_terms(plural) == content_terms(singular)


def test_words_that_only_look_plural_are_kept() -> None:
    assert content_terms("Belarus press analysis speed") == {"belarus", "press", "analysis", "speed"}


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("What is the art of war?", "the start of war was sudden"),  # 'art' inside 'start'
        ("How do I bake rye bread?", "they bake rye breadlines"),  # 'bread' inside 'breadlines'
        ("What's a good workout?", "this is a good result"),  # the 's' of what's is no word
    ],
)
def test_phrases_match_whole_words_only(question: str, passage: str) -> None:
    assert not QuestionRelevance(question).accepts(0.3, passage, "")


def test_phrase_may_stand_in_the_title() -> None:
    gate = QuestionRelevance("What is peace through strength?")
    assert gate.accepts(0.3, "The doctrine is old.", "Peace through strength, explained")
