from __future__ import annotations

from knowledge.text import normalise_text, title_from_text


def test_normalise_text_makes_newline_conventions_hash_alike() -> None:
    assert normalise_text("  a\r\nb\rc\n\n ") == "a\nb\nc"
    assert normalise_text("a\r\nb") == normalise_text("a\nb")


def test_title_from_text_keeps_a_short_text_whole_on_one_line() -> None:
    assert title_from_text("Grain  corridor\nreopened") == "Grain corridor reopened"


def test_title_from_text_cuts_a_long_text_at_a_word_and_marks_the_cut() -> None:
    text = "word " * 40
    title = title_from_text(text, limit=22)
    assert title == "word word word word …"
    assert len(title) <= 22 + 2
