"""The neutral result of a question: verbatim quotes, numbered sources, scores.

No platform type appears here; each adapter renders an `Answer` its own way. Every quote is a
slice of a stored passage, and every source says how old it is, so a reader can see what the
claim rests on and when it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from knowledge.documents import DocumentInfo

NO_ANSWER = (
    "The knowledge base has no answer to that. Try rephrasing with specific names, places or "
    "dates, or ask an admin to add a source that covers it."
)


@dataclass(frozen=True)
class Source:
    """A numbered document that at least one quote comes from."""

    number: int
    document: DocumentInfo
    score: float  # the best passage score of this document for the question

    def as_of(self, today: date | None = None) -> str:
        return describe_date(self.document.published, today)


@dataclass(frozen=True)
class Quote:
    """One sentence copied exactly from a passage: `document.text[start:end] == text`."""

    text: str
    source: int  # Source.number
    passage_id: int
    start: int
    end: int
    score: float  # cosine of sentence and question


@dataclass(frozen=True)
class Answer:
    """Quotes with their sources; `found` is False when the knowledge base has no answer."""

    question: str
    quotes: list[Quote] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    best_passage_score: float = 0.0  # cosine of the best retrieved passage, accepted or not
    id: int | None = None  # set when the answer is logged for an actor; votes refer to it

    @property
    def found(self) -> bool:
        return bool(self.quotes)

    def source(self, number: int) -> Source:
        return self.sources[number - 1]


def describe_date(published: str | None, today: date | None = None) -> str:
    """'as of 2024-11 (2 years ago)': precision kept, age spelled out for readers in a hurry."""
    if not published:
        return "date unknown"
    today = today or date.today()
    parts = [int(p) for p in published.split("-")]
    year, month = parts[0], parts[1] if len(parts) > 1 else 1
    months = (today.year - year) * 12 + (today.month - month)
    if months < 0:
        age = "in the future"
    elif len(parts) == 3 and (today - date(*parts)).days < 31:
        days = (today - date(*parts)).days
        age = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
    elif months < 1:
        age = "this month" if len(parts) > 1 else "this year"
    elif months < 24:
        age = f"{months} month{'s' if months != 1 else ''} ago"
    else:
        age = f"{months // 12} years ago"
    return f"as of {published} ({age})"
