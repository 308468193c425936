"""Decides whether a retrieved passage is relevant enough to quote: the relevance gate.

A bi-encoder scores passages that share a topic with the question almost as high as passages
that answer it, so a cosine threshold alone lets a crisis bot quote a Kremlin note about a
tennis tournament to someone asking about grand slam records, while a high threshold turns
away answerable questions. The gate reads the evidence the retriever already has, a handful
of named features per passage (`FEATURES` of bot.core.gate_model):

- `cosine`: the passage's cosine with the question; `sentence_cosine`: its best answer
  sentence's (a passage that answers holds one sentence that matches closely);
- `lexical_z`: the passage's BM25 z-score (how unusual its lexical score is for this question);
- `term_share`: the share of the question's content words found in title and passage (its
  stems as the lexical index counts them, when there is one);
  `idf_share`: the same weighted by each stem's rarity in the knowledge base (BM25's IDF, so
  "Eurovision" counts for more than "war"); `phrase`: a three-word phrase of the question
  stands verbatim in the passage ("peace through strength");
- `fact_check`, `official`, `analysis`: the document's kind (news and other: all 0);
- `log_age`: log(1 + days) between publication and the day asked, capped at ten years.

A logistic regression fitted on labelled questions (benchmarks/quality/fit_gate.py) turns them
into a probability; the passage is quotable when it reaches the threshold (Settings.gate_threshold).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from bot.core import gate_model
from bot.core.explanation import CandidateExplanation
from index.bm25 import QuestionTokenizer
from index.recency import published_date
from index.retriever import ScoredPassage
from knowledge.documents import Kind

_STOPWORDS = frozenset(
    """a an the of in on at to for from by with about into over after before and or but if then
    than so as is are was were be been being do does did doing have has had having what which
    who whom whose when where why how many much there here this that these those it its i me my
    we our you your he him his she her they them their can could would should will shall may
    might must not no yes any some all most more less very just also still even only ever again
    say said says tell told according per vs via up down out off whats whos anyone someone
    something get got going gone""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
MAX_AGE_DAYS = 3650
UNDATED_AGE_DAYS = 365  # a source without a date counts as a year old: neither fresh nor stale


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def _stem(word: str) -> str:
    """Plural to singular, roughly: 'troops'/'troop', 'missiles'/'missile', 'cities'/'city'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz" or word.endswith(("ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _is_content(word: str) -> bool:
    return len(word) > 1 and word not in _STOPWORDS


def content_terms(text: str) -> set[str]:
    return {_stem(w) for w in _words(text) if _is_content(w)}


@lru_cache(maxsize=65536)
def text_terms(text: str) -> frozenset[str]:
    """A text's content terms, kept: the same passages and sentences come back question after
    question, and stemming eight passages was a fifth of an answer's time."""
    return frozenset(content_terms(text))


_tokenizers = threading.local()


@lru_cache(maxsize=65536)
def text_stems(text: str) -> frozenset[str]:
    """A text's stems as the lexical index counts them (Snowball), for `idf_share`."""
    tokenizer: QuestionTokenizer | None = getattr(_tokenizers, "tokenizer", None)
    if tokenizer is None:  # PyStemmer's stemmers are not thread-safe: one per thread
        tokenizer = _tokenizers.tokenizer = QuestionTokenizer()
    return frozenset(tokenizer.stems(text))


def term_shares(text: str, term_idf: Mapping[str, float] | None, terms: frozenset[str] | set[str]) -> tuple[float, float]:
    """(term share, IDF share) of the question's terms found in `text`: its stems as the
    lexical index counts them, each weighted by its IDF for the second, when the retriever
    has a lexical index (`term_idf`); else its content `terms`, every one weighing the same
    in both."""
    if term_idf:
        stems = text_stems(text)  # one stemming pass serves both shares
        found = [weight for stem, weight in term_idf.items() if stem in stems]
        total = sum(term_idf.values())
        return len(found) / len(term_idf), (sum(found) / total if total else 0.0)
    share = len(terms & text_terms(text)) / len(terms) if terms else 0.0
    return share, share


@lru_cache(maxsize=8192)
def _padded_words(text: str) -> str:
    return " " + " ".join(_words(text)) + " "


def _phrases(text: str) -> set[str]:
    """Three-word runs holding at least two content words, e.g. 'peace through strength'."""
    words = _words(text)
    return {
        " ".join(words[i : i + 3])
        for i in range(len(words) - 2)
        if sum(_is_content(w) for w in words[i : i + 3]) >= 2
    }


def age_days(published: str | None, asked_at: date) -> float:
    """Days from publication to the question, 0 for a source dated after it, capped."""
    when = published_date(published)
    if when is None:
        return float(UNDATED_AGE_DAYS)
    return float(min(max((asked_at - when).days, 0), MAX_AGE_DAYS))


@dataclass(frozen=True)
class GatePolicy:
    """`threshold`: the probability a passage needs for the question to be answered at all
    (Settings.gate_threshold). `quote_floor`: once one passage has it, the probability another
    needs to be quoted beside it: a question the knowledge base answers may be answered best by
    a passage the model is less sure of on its own (realtimeqa-dev: the quoted text contains
    the answer for 55.8% -> 57.0% of questions, off-topic questions untouched, since they still
    need one passage at `threshold`)."""

    threshold: float = gate_model.THRESHOLD
    quote_floor: float = 0.20


class RelevanceGate:
    """The question's terms and phrases, computed once, then each candidate passage judged."""

    def __init__(self, question: str, asked_at: date | None = None, policy: GatePolicy = GatePolicy()) -> None:
        self.policy = policy
        self.asked_at = asked_at or date.today()
        self.terms = content_terms(question)
        self.phrases = _phrases(question)

    def features(self, hit: ScoredPassage, sentence_cosine: float) -> dict[str, float]:
        """The named features of one passage (`sentence_cosine`: its best answer sentence's
        cosine with the question; the passage's own when it has no answer sentence)."""
        document = hit.stored.document
        text = f"{document.title} {hit.stored.passage.text}"
        term_share, idf_share = term_shares(text, hit.term_idf, self.terms)
        padded = _padded_words(text) if self.phrases else ""
        phrase = any(f" {p} " in padded for p in self.phrases)
        return {
            "cosine": hit.score,
            "sentence_cosine": sentence_cosine,
            "lexical_z": 0.0 if hit.lexical_z is None else min(hit.lexical_z, 20.0),
            "term_share": term_share,
            "idf_share": idf_share,
            "phrase": float(phrase),
            "fact_check": float(document.kind is Kind.FACT_CHECK),
            "official": float(document.kind is Kind.OFFICIAL_STATEMENT),
            "analysis": float(document.kind is Kind.ANALYSIS),
            "log_age": math.log1p(age_days(document.published, self.asked_at)),
        }

    def judge(self, hit: ScoredPassage, sentence_cosine: float) -> CandidateExplanation:
        """The gate's decision on one passage, with its evidence and a one-line reason."""
        features = self.features(hit, sentence_cosine)
        p = gate_model.probability(features)
        threshold = self.policy.threshold
        accepted = p >= threshold
        reason = f"p {p:.2f} {'>=' if accepted else '<'} {threshold:.2f}"
        return CandidateExplanation(hit.stored.passage.id or 0, hit.stored.document.id,
                                    hit.stored.document.title, features, p, accepted, reason)

