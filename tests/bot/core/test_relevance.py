from __future__ import annotations

import math
from datetime import date

import pytest

from bot.core import gate_model
from bot.core.relevance import MAX_AGE_DAYS, UNDATED_AGE_DAYS, GatePolicy, RelevanceGate, age_days, content_terms
from index.retriever import ScoredPassage
from knowledge.documents import DocumentInfo, Kind, Passage, StoredPassage


def hit(text: str, score: float = 0.5, title: str = "", kind: Kind = Kind.NEWS, published: str | None = "2024-11-01",
        lexical_z: float | None = None, term_idf: dict[str, float] | None = None) -> ScoredPassage:
    info = DocumentInfo("doc", title, None, None, kind, published, "en", "test", "2024-11-01")
    return ScoredPassage(StoredPassage(Passage(7, "doc", 0, text, 0, len(text)), info), score,
                         lexical_z=lexical_z, term_idf=term_idf)


def test_content_terms_drop_stopwords_and_strip_plurals() -> None:
    assert content_terms("How many North Korean troops were sent to Russia?") == {
        "north", "korean", "troop", "sent", "russia"
    }


@pytest.mark.parametrize(
    ("plural", "singular"),
    [("troops", "troop"), ("missiles", "missile"), ("strikes", "strike"), ("cities", "city"),
     ("taxes", "tax"), ("marches", "march"), ("prices", "price")],
)
def test_plurals_meet_their_singulars(plural: str, singular: str) -> None:
    assert content_terms(plural) == content_terms(singular)


def test_words_that_only_look_plural_are_kept() -> None:
    assert content_terms("Belarus press analysis speed") == {"belarus", "press", "analysis", "speed"}


def test_features_are_the_models_and_named() -> None:
    features = RelevanceGate("How many troops did North Korea send?").features(hit("Troops arrived."), 0.4)
    assert tuple(features) == gate_model.FEATURES


def test_scores_and_lexical_z_are_read_from_the_hit() -> None:
    gate = RelevanceGate("How many troops did North Korea send?")
    features = gate.features(hit("At least 10,000 North Korean troops arrived.", 0.61, lexical_z=3.5), 0.72)
    assert features["cosine"] == 0.61 and features["sentence_cosine"] == 0.72 and features["lexical_z"] == 3.5
    assert gate.features(hit("Anything."), 0.1)["lexical_z"] == 0.0  # dense-only retrieval


def test_term_share_counts_the_questions_content_words_in_title_and_text() -> None:
    gate = RelevanceGate("What happened at Azovstal in Mariupol?")  # happened, azovstal, mariupol
    assert gate.features(hit("The defenders held out.", title="Mariupol"), 0.3)["term_share"] == pytest.approx(1 / 3)
    assert gate.features(hit("Azovstal fell; it happened in Mariupol."), 0.3)["term_share"] == 1.0
    assert RelevanceGate("What is it?").features(hit("Anything."), 0.3)["term_share"] == 0.0


def test_idf_share_weighs_terms_by_rarity() -> None:
    gate = RelevanceGate("Who won Eurovision in Ukraine?")
    idf = {"won": 1.0, "eurovis": 6.0, "ukrain": 1.0}  # Snowball stems, as the lexical index keys them
    about_war = gate.features(hit("Ukraine won ground near Kharkiv.", term_idf=idf), 0.5)
    about_contest = gate.features(hit("Eurovision was held in Liverpool.", term_idf=idf), 0.5)
    assert about_war["idf_share"] == pytest.approx(2 / 8)
    assert about_contest["idf_share"] == pytest.approx(6 / 8)
    # without document frequencies (dense-only retrieval) every term weighs the same
    assert gate.features(hit("Eurovision was held in Liverpool."), 0.5)["idf_share"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("question", "passage", "phrase"),
    [
        ("What is peace through strength?", "his philosophy of 'peace through strength.'", 1.0),
        ("What does peace mean?", "Peace through strength was his philosophy.", 0.0),
        ("What is the art of war?", "the start of war was sudden", 0.0),  # 'art' inside 'start'
        ("How do I bake rye bread?", "they bake rye breadlines", 0.0),  # 'bread' inside 'breadlines'
    ],
)
def test_phrases_match_whole_words_only(question: str, passage: str, phrase: float) -> None:
    assert RelevanceGate(question).features(hit(passage), 0.3)["phrase"] == phrase


def test_kind_flags() -> None:
    gate = RelevanceGate("Did the strike happen?")
    assert gate.features(hit("Text.", kind=Kind.FACT_CHECK), 0.3)["fact_check"] == 1.0
    official = gate.features(hit("Text.", kind=Kind.OFFICIAL_STATEMENT), 0.3)
    assert (official["official"], official["fact_check"], official["analysis"]) == (1.0, 0.0, 0.0)
    news = gate.features(hit("Text.", kind=Kind.NEWS), 0.3)
    assert (news["official"], news["fact_check"], news["analysis"]) == (0.0, 0.0, 0.0)


def test_age_is_counted_from_the_day_asked_and_capped() -> None:
    asked = date(2024, 11, 11)
    assert age_days("2024-11-01", asked) == 10
    assert age_days("2024-12", asked) == 0  # published after the question
    assert age_days("1990", asked) == MAX_AGE_DAYS
    assert age_days(None, asked) == UNDATED_AGE_DAYS
    features = RelevanceGate("Anything?", asked).features(hit("Text.", published="2024-11-01"), 0.3)
    assert features["log_age"] == pytest.approx(math.log1p(10))


def test_probability_rises_with_each_positive_coefficient() -> None:
    base = dict.fromkeys(gate_model.FEATURES, 0.0)
    for name, coefficient in zip(gate_model.FEATURES, gate_model.COEFFICIENTS):
        higher = gate_model.probability({**base, name: 1.0})
        if coefficient > 0:
            assert higher > gate_model.probability(base), name
        elif coefficient < 0:
            assert higher < gate_model.probability(base), name


def test_model_constants_agree() -> None:
    n = len(gate_model.FEATURES)
    assert len(gate_model.MEANS) == len(gate_model.SCALES) == len(gate_model.COEFFICIENTS) == n
    assert all(scale > 0 for scale in gate_model.SCALES)
    assert 0.0 < gate_model.THRESHOLD < 1.0


def test_judge_compares_the_probability_with_the_threshold() -> None:
    passage = hit("At least 10,000 North Korean troops arrived in Russia.", 0.7, lexical_z=5.0)
    question = "How many North Korean troops arrived in Russia?"
    p = RelevanceGate(question).judge(passage, 0.8).probability
    accepted = RelevanceGate(question, policy=GatePolicy(threshold=p)).judge(passage, 0.8)
    declined = RelevanceGate(question, policy=GatePolicy(threshold=min(1.0, p + 0.01))).judge(passage, 0.8)
    assert accepted.accepted and accepted.reason == f"p {p:.2f} >= {p:.2f}"
    assert not declined.accepted and declined.reason.startswith(f"p {p:.2f} < ")
    assert (accepted.passage_id, accepted.document_id) == (7, "doc")


def test_an_answering_passage_passes_and_an_unrelated_one_does_not() -> None:
    gate = RelevanceGate("How many North Korean troops arrived in Russia?", date(2024, 11, 20))
    idf = {"mani": 1.0, "north": 3.0, "korean": 4.0, "troop": 2.5, "arriv": 2.0, "russia": 1.0}
    answering = hit("At least 10,000 North Korean troops arrived in Russia.", 0.72, lexical_z=6.0, term_idf=idf)
    unrelated = hit("The tennis tournament in St Petersburg was cancelled.", 0.18, lexical_z=-0.3, term_idf=idf)
    assert gate.judge(answering, 0.8).accepted
    assert not gate.judge(unrelated, 0.2).accepted
