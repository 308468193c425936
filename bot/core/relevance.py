"""Decides whether a retrieved passage is relevant enough to quote, beyond its cosine score.

A bi-encoder scores passages that share a topic with the question almost as high as passages
that answer it, so a cosine threshold alone lets a crisis bot quote a Kremlin note about a
tennis tournament to someone asking about grand slam records. Two lexical checks, measured on
the seed article, the statements corpus and realtimeqa-dev (docs/architecture.md, "Declining to answer"):

- a passage above the cosine threshold must share at least one content word with the question;
- a passage below it, but above a lower floor, still counts when it contains a three-word
  phrase of the question verbatim (the model misses rare phrases such as "peace through
  strength" that readers quote exactly).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

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


@lru_cache(maxsize=8192)
def _passage_terms(text: str) -> frozenset[str]:
    """A passage's content terms, kept: the same passages come back question after question,
    and stemming eight of them was a fifth of an answer's time."""
    return frozenset(content_terms(text))


def _phrases(text: str) -> set[str]:
    """Three-word runs holding at least two content words, e.g. 'peace through strength'."""
    words = _words(text)
    return {
        " ".join(words[i : i + 3])
        for i in range(len(words) - 2)
        if sum(_is_content(w) for w in words[i : i + 3]) >= 2
    }


@dataclass(frozen=True)
class RelevancePolicy:
    min_score: float = 0.45
    min_shared_terms: int = 1
    phrase_floor: float = 0.25


class QuestionRelevance:
    """The question's terms and phrases, computed once, checked against each passage."""

    def __init__(self, question: str, policy: RelevancePolicy = RelevancePolicy()) -> None:
        self.policy = policy
        self.terms = content_terms(question)
        self.phrases = _phrases(question)

    def accepts(self, score: float, passage_text: str, title: str) -> bool:
        """A question with no content words at all ('what is it?') is judged by score alone."""
        text = f"{title} {passage_text}"
        if score >= self.policy.min_score:
            needed = min(self.policy.min_shared_terms, len(self.terms))
            return len(self.terms & _passage_terms(text)) >= needed
        if score >= self.policy.phrase_floor and self.phrases:
            padded = " " + " ".join(_words(text)) + " "
            return any(f" {phrase} " in padded for phrase in self.phrases)
        return False
