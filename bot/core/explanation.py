"""Why an answer says what it says: the gate's view of each candidate passage and the reason
each quoted span was chosen.

An admin asked "why was this declined?" (or "why this quote?") needs the evidence, not a
score: `crisisbot ask --explain` prints this, and the JSON format carries it. The composer
fills it for every answer; it is small (a handful of numbers per retrieved passage), so no
second code path exists for explaining.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CandidateExplanation:
    """One retrieved passage as the relevance gate saw it."""

    passage_id: int
    document_id: str
    title: str
    features: dict[str, float]  # feature name -> value, as the gate's model read them
    probability: float  # the gate's estimate that the passage answers the question
    accepted: bool
    reason: str = ""  # one line: why accepted or declined ("p 0.81 >= 0.50", "no shared term")


@dataclass(frozen=True)
class QuoteExplanation:
    """Why one quote of the answer was chosen (index into `Answer.quotes`)."""

    quote: int
    reasons: list[str]  # e.g. "best sentence (cosine 0.71)", "brings its antecedent", "has a quantity"


@dataclass(frozen=True)
class Explanation:
    question_type: str = ""  # "how many", "when", "who", "why", "is it true", "latest", or ""
    resolved_question: str = ""  # the question actually searched (a follow-up resolved, a prefix stripped)
    candidates: list[CandidateExplanation] = field(default_factory=list)
    quotes: list[QuoteExplanation] = field(default_factory=list)
    # The question's language when the gate cannot read it yet ("uk", "ru"): declined for that.
    unread_language: str = ""
