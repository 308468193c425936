"""The neutral result of a question: verbatim quotes, numbered sources, scores.

No platform type appears here; each adapter renders an `Answer` its own way. Every quote is a
slice of a stored passage, and every source says how old it is, so a reader can see what the
claim rests on and when it was made. When the quotes come from sources of different dates,
each quote carries its own date as well (`Answer.marker`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.core.explanation import Explanation
from bot.core.messages import GAP_MARK as GAP_MARK  # re-exported: renderers put it between spans
from bot.core.messages import NO_ANSWER as NO_ANSWER  # re-exported: answers carry it
from bot.core.messages import (
    AGE_FUTURE,
    AGE_THIS_MONTH,
    AGE_THIS_YEAR,
    AGE_TODAY,
    AS_OF,
    DAYS_AGO,
    MONTHS_AGO,
    UNKNOWN_DATE,
    YEARS_AGO,
)
from bot.core.translation import Phrases, phrases
from knowledge.documents import DocumentInfo
from knowledge.language import DEFAULT_LANGUAGE, Language



@dataclass(frozen=True)
class Source:
    """A numbered document that at least one quote comes from."""

    number: int
    document: DocumentInfo
    score: float  # the best passage score of this document for the question

    def as_of(self, today: date | None = None, words: Phrases | None = None) -> str:
        return describe_date(self.document.published, today, words)


@dataclass(frozen=True)
class Quote:
    """A contiguous span (one sentence or a few) copied exactly from a passage:
    `document.text[start:end] == text`.

    `gap_before`: the quote does not continue the one before it (another part of the passage,
    or another source), so renderers put `GAP_MARK` ("[…]") before it; readers must not take
    two separate spans for one run of text.
    """

    text: str
    source: int  # Source.number
    passage_id: int
    start: int
    end: int
    score: float  # best cosine of one of its sentences and the question
    gap_before: bool = False


@dataclass(frozen=True)
class Answer:
    """Quotes with their sources; `found` is False when the knowledge base has no answer."""

    question: str
    quotes: list[Quote] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    best_passage_score: float = 0.0  # cosine of the best retrieved passage, accepted or not
    id: int | None = None  # set when the answer is logged for an actor; votes refer to it
    explanation: Explanation = field(default_factory=Explanation)  # `ask --explain` prints it
    # The asker's language: the bot's own words around the quotes are in it, never the quotes.
    language: Language = DEFAULT_LANGUAGE

    @property
    def found(self) -> bool:
        return bool(self.quotes)

    @property
    def words(self) -> Phrases:
        """The bot's own sentences in the asker's language, for renderers."""
        return phrases(self.language)

    def source(self, number: int) -> Source:
        return self.sources[number - 1]

    @property
    def dates_differ(self) -> bool:
        """Whether the quoted sources do not all share one `published` value.

        Compared as stored, so "2024-11" and "2024-11-20" differ, and so do a dated and an
        undated source: the reader cannot tell that they describe the same moment.
        """
        return len({self.source(q.source).document.published for q in self.quotes}) > 1

    def quote_date(self, quote: Quote) -> str | None:
        """The date to show with `quote` ("2024-10-20", "2024-11", "date unknown"), or None.

        Reports change quickly in a war: troop numbers from October and from November, quoted
        side by side without dates, read as one contradictory claim. So when the quotes come
        from sources of different dates, each carries its source's date. When they all share
        one date, the source list already says it once and per-quote dates would only be noise.
        """
        if not self.dates_differ:
            return None
        return self.source(quote.source).document.published or self.words.text(UNKNOWN_DATE)

    def marker(self, quote: Quote) -> str:
        """The citation after `quote`: "[1]", or "[1, 2024-10-20]" when dates differ.

        One form for every renderer; each escapes or links it as its platform needs.
        """
        label = self.quote_date(quote)
        return f"[{quote.source}, {label}]" if label else f"[{quote.source}]"


def describe_date(published: str | None, today: date | None = None, words: Phrases | None = None) -> str:
    """'as of 2024-11 (2 years ago)': precision kept, age spelled out for readers in a hurry.

    `words` is the reader's language (English by default); the date itself stays ISO, which
    reads the same in every language and sorts."""
    words = words or phrases()
    if not published:
        return words.text(UNKNOWN_DATE)
    return words.text(AS_OF, date=published, age=_age(published, today or date.today(), words))


def _age(published: str, today: date, words: Phrases) -> str:
    parts = [int(p) for p in published.split("-")]
    year, month = parts[0], parts[1] if len(parts) > 1 else 1
    months = (today.year - year) * 12 + (today.month - month)
    if months < 0:
        return words.text(AGE_FUTURE)
    if len(parts) == 3 and (today - date(*parts)).days < 31:
        days = (today - date(*parts)).days
        return words.text(AGE_TODAY) if days == 0 else words.plural(*DAYS_AGO, days)
    if months < 1:
        return words.text(AGE_THIS_MONTH if len(parts) > 1 else AGE_THIS_YEAR)
    if months < 24:
        return words.plural(*MONTHS_AGO, months)
    return words.plural(*YEARS_AGO, months // 12)
