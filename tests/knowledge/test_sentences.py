"""The rule-based sentence splitter: where it splits, where it must not, and exact offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.readers import read_markdown
from knowledge.sentences import Span, split_sentences


def sentences(text: str) -> list[str]:
    spans = split_sentences(text)
    check_spans(text, spans)
    return [text[s.start : s.end] for s in spans]


def check_spans(text: str, spans: list[Span]) -> None:
    """Spans are ordered, disjoint, non-empty and trimmed; the gaps between them are blank."""
    previous_end = 0
    for span in spans:
        assert previous_end <= span.start < span.end <= len(text)
        piece = text[span.start : span.end]
        assert piece == piece.strip() and piece
        assert text[previous_end : span.start].strip() == ""
        previous_end = span.end
    assert text[previous_end:].strip() == ""


@pytest.mark.parametrize(
    "sentence",
    [
        "Mr. Zelensky met Dr. Smith and Mrs. Jones on Monday.",
        "The U.S. Army and the U.K. Navy sent St. Petersburg a note.",
        "J. R. R. Tolkien never wrote about Kyiv.",
        "Inflation reached 3.5 percent, up from 2.75 in May.",
        "Prices rose approx. 20 percent, e.g. Bread, vs. Last year.",
        "Gen. Zaluzhnyi spoke at 9 a.m. To the troops.",
        "She cited Art. 51 of the U.N. Charter and No. 2 of the list.",
    ],
)
def test_abbreviations_initials_and_decimals_do_not_split(sentence: str) -> None:
    assert sentences(f"{sentence} The next one follows.") == [sentence, "The next one follows."]


def test_question_and_exclamation_marks_split() -> None:
    text = "Will the grain deal hold? Nobody knows! Talks resume on Friday."
    assert sentences(text) == ["Will the grain deal hold?", "Nobody knows!", "Talks resume on Friday."]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert sentences("“It is over,” he said. Next.") == ["“It is over,” he said.", "Next."]
    assert sentences("“It is over.” He left.") == ["“It is over.”", "He left."]
    assert sentences('He said "stop!" Then he left.') == ['He said "stop!"', "Then he left."]
    assert sentences("(See the map.) It shows the front.") == ["(See the map.)", "It shows the front."]


def test_lower_case_continuation_does_not_split() -> None:
    text = "The shelling stopped at 10 p.m. and resumed. Wait... what happened next? Nothing."
    assert sentences(text) == [
        "The shelling stopped at 10 p.m. and resumed.",
        "Wait... what happened next?",
        "Nothing.",
    ]


def test_sentence_may_start_with_digit_or_quote() -> None:
    text = "Forces advanced. 12 villages were retaken. “We are home,” a soldier said."
    assert sentences(text) == [
        "Forces advanced.",
        "12 villages were retaken.",
        "“We are home,” a soldier said.",
    ]


def test_paragraphs_always_break_and_are_numbered() -> None:
    text = "# Heading without a stop\n\nFirst paragraph, no stop\n \t\nSecond paragraph. Two sentences."
    spans = split_sentences(text)
    check_spans(text, spans)
    assert [text[s.start : s.end] for s in spans] == [
        "# Heading without a stop",
        "First paragraph, no stop",
        "Second paragraph.",
        "Two sentences.",
    ]
    assert [s.paragraph for s in spans] == [0, 1, 2, 2]


def test_single_newline_does_not_break() -> None:
    assert sentences("A line that wraps\nonto the next line.") == ["A line that wraps\nonto the next line."]


def test_spans_exclude_surrounding_white_space() -> None:
    text = "  \n  First one.   Second one.  \n\n\n   Third one.\t \n"
    spans = split_sentences(text)
    assert [(text[s.start : s.end]) for s in spans] == ["First one.", "Second one.", "Third one."]
    assert spans[0].start == text.index("First")
    assert spans[-1].end == text.index("one.\t") + len("one.")


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", " \t\n \n"])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []


def test_text_without_punctuation_is_one_sentence() -> None:
    assert sentences("no punctuation at all here") == ["no punctuation at all here"]


def test_seed_article_sentences(seed_path: Path) -> None:
    text = read_markdown(seed_path, "t").text
    found = sentences(text)
    troops = [s for s in found if "10,000 North Korean troops" in s]
    assert troops == [
        "The initial shock stems from the arrival of at least 10,000 North Korean troops in "
        "Russia, accompanied by the shipment of significant quantities of weaponry from Pyongyang."
    ]
    biden = [s for s in found if "ATACMS" in s]
    assert len(biden) == 1
    assert "U.S. President Joe Biden" in biden[0] and biden[0].endswith(".")
    # Every paragraph of the article starts a new sentence.
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    starts = {text[s.start : s.end][:40] for s in split_sentences(text)}
    assert all(p[:40] in starts for p in paragraphs)
