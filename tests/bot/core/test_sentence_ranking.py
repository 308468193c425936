from __future__ import annotations

import numpy as np
import pytest

from bot.core import sentence_model
from bot.core.relevance import content_terms
from bot.core.sentence_ranking import PassageEvidence, RankedSentence, idf_share, sentence_features, sentence_scores

COLUMN = {name: i for i, name in enumerate(sentence_model.FEATURES)}


def evidence(probability: float = 0.6, cosine: float = 0.5, rank: int = 0,
             term_idf: dict[str, float] | None = None) -> PassageEvidence:
    return PassageEvidence(probability, cosine, rank, term_idf)


def sentence(text: str, cosine: float, index: int = 0, passage: PassageEvidence | None = None) -> RankedSentence:
    return RankedSentence(text, cosine, index, passage or evidence())


def test_one_row_per_sentence_one_column_per_feature() -> None:
    features = sentence_features("Who won?", [sentence("A.", 0.4), sentence("B.", 0.5, 1)], 0.5, 0.6)
    assert features.shape == (2, len(sentence_model.FEATURES))


def test_features_are_relative_to_the_best_of_every_accepted_passage() -> None:
    first, third = evidence(probability=0.9), evidence(probability=0.5, rank=3)
    features = sentence_features("Who won?", [sentence("A.", 0.4, 0, first), sentence("B.", 0.5, 1, first),
                                              sentence("C.", 0.3, 0, third)], best_cosine=0.7, best_probability=0.9)
    assert features[:, COLUMN["below_best_cosine"]].tolist() == pytest.approx([-0.3, -0.2, -0.4])
    assert features[:, COLUMN["below_best_probability"]].tolist() == pytest.approx([0.0, 0.0, -0.4])
    assert features[:, COLUMN["log_rank"]].tolist() == pytest.approx([0.0, 0.0, np.log(4)])
    assert features[:, COLUMN["opens_passage"]].tolist() == [1.0, 0.0, 1.0]


def test_idf_share_weighs_the_questions_stems_by_rarity() -> None:
    idf = {"therano": 6.0, "compani": 1.0}  # Snowball stems, as the lexical index counts them
    assert idf_share("Holmes founded Theranos in 2003.", idf, frozenset()) == pytest.approx(6 / 7)
    assert idf_share("The company was founded in 2003.", idf, frozenset()) == pytest.approx(1 / 7)
    assert idf_share("Nothing here.", idf, frozenset()) == 0.0


def test_without_a_lexical_index_every_term_weighs_the_same() -> None:
    terms = frozenset(content_terms("Holmes, company, Theranos"))
    assert idf_share("The company Theranos.", None, terms) == pytest.approx(2 / 3)
    assert idf_share("Anything.", None, frozenset()) == 0.0


def test_no_sentences_no_rows() -> None:
    assert sentence_features("Who won?", [], 0.5, 0.5).shape == (0, len(sentence_model.FEATURES))
    assert len(sentence_scores("Who won?", [], 0.5, 0.5)) == 0


def test_the_sentence_with_the_questions_rare_term_ranks_first_at_equal_cosine() -> None:
    passage = evidence(term_idf={"therano": 6.0, "compani": 1.0})
    vague, named = sentence_scores("Which company did Holmes found?", [
        sentence("She started a company.", 0.5, 1, passage),
        sentence("Holmes founded Theranos in 2003.", 0.5, 1, passage)], 0.5, 0.6)
    assert named > vague


def test_a_passage_the_gate_is_surer_of_ranks_first_at_equal_cosine() -> None:
    sure, unsure = sentence_scores("Who won?", [sentence("X won.", 0.5, 0, evidence(probability=0.9)),
                                                sentence("Y won.", 0.5, 0, evidence(probability=0.4))], 0.5, 0.9)
    assert sure > unsure


def test_a_closer_sentence_ranks_first_in_one_passage() -> None:
    close, far = sentence_scores("Who won?", [sentence("Close.", 0.7, 1), sentence("Far.", 0.2, 2)], 0.7, 0.6)
    assert close > far


def test_the_models_signs_make_sense() -> None:
    """A refit that turned these around would rank against the evidence: look at the data first."""
    weight = dict(zip(sentence_model.FEATURES, sentence_model.COEFFICIENTS))
    assert weight["cosine"] + weight["below_best_cosine"] > 0
    assert weight["passage_probability"] > 0 and weight["idf_share"] > 0 and weight["log_rank"] < 0
    assert len(sentence_model.MEANS) == len(sentence_model.SCALES) == len(sentence_model.FEATURES)
    assert sentence_model.BONUS_SCALE > 0
