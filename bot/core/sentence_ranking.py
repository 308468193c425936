"""How likely each quotable sentence of the candidate passages is to hold the answer: the sentence ranker.

A sentence's cosine with the question says it is on the topic; whether it answers also shows
in what the retriever and the gate know of its passage. On the held-out realtimeqa-dev
questions that have a candidate sentence holding the quiz's answer, a logistic regression over
these named features (`FEATURES` of bot.core.sentence_model) ranks such a sentence first for
80.0% of them, against 66.7% for the hand-weighted cosines it replaces (0.7 x the sentence's +
0.3 x its passage's):

- `cosine`: the sentence's cosine with the question; `below_best_cosine`: how far it is below
  the best sentence of any accepted passage (a close second is still a candidate);
- `passage_probability`: the gate's probability for its passage; `below_best_probability`:
  how far that is below the best passage's;
- `passage_cosine`: its passage's cosine with the question; `log_rank`: log(1 + the passage's
  place in the retrieval order);
- `idf_share`: the question's terms the sentence itself contains, each weighted by its rarity
  in the knowledge base (BM25's IDF when the retriever has a lexical index, else every term
  weighs the same): "Theranos" says more than "company";
- `opens_passage`: the passage's first sentence (a news paragraph's lead states the fact).

The model is fitted by benchmarks/quality/fit_sentences.py; its coefficients are in the repo.
No model runs here but that one: the cosines come from the composer's sentence vectors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.core import sentence_model
from bot.core.relevance import content_terms, term_shares


@dataclass(frozen=True)
class PassageEvidence:
    """What the ranker reads of a sentence's passage."""

    probability: float  # the gate's
    cosine: float  # the passage's own
    rank: int  # its place in the retrieval order (0: first)
    term_idf: Mapping[str, float] | None  # the question's stems and their IDF (None: dense only)


@dataclass(frozen=True)
class RankedSentence:
    """One sentence that may be quoted."""

    text: str
    cosine: float  # with the question
    index: int  # its place in its passage (0: it opens the passage)
    passage: PassageEvidence


def idf_share(sentence: str, term_idf: Mapping[str, float] | None, question_terms: frozenset[str]) -> float:
    """The weight of the question's terms found in `sentence` over all of them (the gate's
    `idf_share`, on one sentence)."""
    return term_shares(sentence, term_idf, question_terms)[1]


def sentence_features(question: str, sentences: Sequence[RankedSentence], best_cosine: float,
                      best_probability: float) -> np.ndarray:
    """One row per sentence, one column per feature of `sentence_model.FEATURES`.
    `best_cosine` and `best_probability` are over every accepted passage (its best sentence's
    cosine, the gate's probability), not only the sentences ranked: only the candidates'
    sentences are ranked, and their stems are the ranker's cost."""
    features = np.zeros((len(sentences), len(sentence_model.FEATURES)), dtype=np.float64)
    terms = frozenset(content_terms(question)) if sentences else frozenset()
    for row, sentence in enumerate(sentences):
        passage = sentence.passage
        features[row] = (sentence.cosine, sentence.cosine - best_cosine, passage.probability,
                         passage.probability - best_probability, passage.cosine, math.log1p(passage.rank),
                         idf_share(sentence.text, passage.term_idf, terms), float(sentence.index == 0))
    return features


def sentence_scores(question: str, sentences: Sequence[RankedSentence], best_cosine: float,
                    best_probability: float) -> np.ndarray:
    """Each sentence's log-odds of holding the answer (higher: more likely)."""
    return sentence_model.log_odds(sentence_features(question, sentences, best_cosine, best_probability))
