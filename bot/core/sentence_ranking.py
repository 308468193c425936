"""How likely each sentence of the accepted passages is to hold the answer: the sentence ranker.

A sentence's cosine with the question says it is on the topic; whether it answers also shows
in what the retriever and the gate know of its passage. On realtimeqa-dev the sentence that
holds the quiz's answer is ranked first for 52% of the held-out questions by a logistic
regression over these named features (`FEATURES` of bot.core.sentence_model), against 44% for
the hand-weighted cosines it replaces (0.7 x the sentence's + 0.3 x its passage's):

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
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.core import sentence_model
from bot.core.relevance import content_terms
from index.bm25 import QuestionTokenizer

_tokenizers = threading.local()


@lru_cache(maxsize=65536)
def _sentence_stems(text: str) -> frozenset[str]:
    """A sentence's stems as the lexical index counts them (Snowball): the same sentences come
    back question after question."""
    tokenizer: QuestionTokenizer | None = getattr(_tokenizers, "tokenizer", None)
    if tokenizer is None:  # PyStemmer's stemmers are not thread-safe: one per thread
        tokenizer = _tokenizers.tokenizer = QuestionTokenizer()
    return frozenset(tokenizer.stems(text))


@lru_cache(maxsize=65536)
def _sentence_terms(text: str) -> frozenset[str]:
    return frozenset(content_terms(text))


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
    """The weight of the question's terms found in `sentence` over all of them."""
    if term_idf:
        stems = _sentence_stems(sentence)
        total = sum(term_idf.values())
        return sum(w for stem, w in term_idf.items() if stem in stems) / total if total else 0.0
    if not question_terms:
        return 0.0
    return len(question_terms & _sentence_terms(sentence)) / len(question_terms)


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
