"""Fuzzing sentence splitting: spans are trimmed, ordered, and together hold every visible character."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from knowledge.sentences import split_sentences
from tests.fuzzing import bounded
from tests.knowledge import strategies as fuzz

texts = st.one_of(fuzz.text, fuzz.prose, st.text(max_size=300),
                  st.lists(st.one_of(fuzz.text, fuzz.prose, st.sampled_from([". ", "\n\n", "! ", "…\n"])),
                           max_size=30).map("".join))


@given(texts)
def test_sentences_cover_the_text_in_order(text: str) -> None:
    spans = bounded(lambda: split_sentences(text))
    assert not isinstance(spans, Exception)
    covered = 0
    paragraph = 0
    for span in spans:
        assert covered <= span.start < span.end <= len(text)
        sentence = text[span.start:span.end]
        assert not sentence[0].isspace() and not sentence[-1].isspace()
        assert text[covered:span.start].strip() == "", "a visible character fell between sentences"
        assert span.paragraph >= paragraph
        covered, paragraph = span.end, span.paragraph
    assert text[covered:].strip() == ""
