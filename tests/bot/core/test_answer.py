"""Per-quote dates: shown only when the quoted sources' dates differ, the same for every renderer."""

from __future__ import annotations

from bot.core.answer import UNKNOWN_DATE, Answer, Quote, Source
from tests.factories import document_info, quoted_answer


def dated(*published: str | None) -> Answer:
    """One quote from each of len(published) documents, dated in that order."""
    return quoted_answer([f"Quote {n}." for n in range(len(published))],
                         [document_info(id=f"d{n}", published=p) for n, p in enumerate(published)])


def labels(answer: Answer) -> list[str | None]:
    return [answer.quote_date(quote) for quote in answer.quotes]


def markers(answer: Answer) -> list[str]:
    return [answer.marker(quote) for quote in answer.quotes]


def test_quotes_from_sources_of_different_dates_each_carry_their_own() -> None:
    answer = dated("2024-10-20", "2024-11")
    assert answer.dates_differ
    assert labels(answer) == ["2024-10-20", "2024-11"]
    assert markers(answer) == ["[1, 2024-10-20]", "[2, 2024-11]"]


def test_sources_sharing_one_date_give_no_per_quote_date() -> None:
    answer = dated("2024-11", "2024-11", "2024-11")
    assert not answer.dates_differ
    assert labels(answer) == [None, None, None]
    assert markers(answer) == ["[1]", "[2]", "[3]"]


def test_a_single_source_gives_no_per_quote_date() -> None:
    answer = quoted_answer(["One.", "Two."], [document_info(published="2024-10-20")])
    assert labels(answer) == [None, None]
    assert markers(answer) == ["[1]", "[1]"]


def test_an_unknown_date_mixed_with_a_known_one_is_said_per_quote() -> None:
    answer = dated("2024-10-20", None, "2024-10-20")
    assert UNKNOWN_DATE == "date unknown"
    assert labels(answer) == ["2024-10-20", "date unknown", "2024-10-20"]
    assert markers(answer) == ["[1, 2024-10-20]", "[2, date unknown]", "[3, 2024-10-20]"]


def test_all_dates_unknown_is_one_shared_value() -> None:
    assert labels(dated(None, None)) == [None, None]


def test_dates_are_compared_as_stored_so_precision_differences_count() -> None:
    # "2024-11" may or may not be the 20th: the reader is shown both as given.
    assert labels(dated("2024-11", "2024-11-20")) == ["2024-11", "2024-11-20"]


def test_only_quoted_sources_decide() -> None:
    quotes = [Quote("One.", 1, 1, 0, 4, 0.5), Quote("Two.", 1, 2, 0, 4, 0.5)]
    sources = [Source(1, document_info(published="2024-11"), 0.5),
               Source(2, document_info(id="d2", published="2023-01"), 0.4)]
    answer = Answer("question?", quotes, sources, 0.6)
    assert not answer.dates_differ
    assert labels(answer) == [None, None]


def test_no_answer_needs_no_dates() -> None:
    assert not Answer("what?").dates_differ
