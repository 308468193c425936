"""Fuzzing chunking: any text becomes passages that are exact slices, in order, within the window.

The token counters are the real model's tokenizer and a small word counter under tiny policies,
so that the cutting of over-long sentences and words (the rare paths) runs on most examples.
"""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from knowledge.chunking import ChunkingPolicy, TokenCounter, chunk_document
from knowledge.documents import Document
from tests.fuzzing import Bounds, bounded
from tests.knowledge import strategies as fuzz

texts = st.one_of(fuzz.text, fuzz.prose, st.lists(st.one_of(fuzz.text, fuzz.prose), max_size=8).map("\n\n".join),
                  st.text(max_size=400))
long_words = st.tuples(st.sampled_from(["https://example.org/", "x", "😀", "ab"]),
                       st.integers(1, 300)).map(lambda pair: pair[0] * pair[1])


def count_words(text: str) -> int:
    """A cheap counter with the shape of word pieces: each word and punctuation mark is one."""
    return len(re.findall(r"\w+|[^\w\s]", text))


@st.composite
def policies(draw: st.DrawFn) -> ChunkingPolicy:
    max_tokens = draw(st.integers(1, 60))
    return ChunkingPolicy(max_tokens=max_tokens, target_tokens=draw(st.integers(1, max_tokens)),
                          max_sentences=draw(st.integers(1, 6)), min_tokens=draw(st.integers(0, max_tokens)))


def check_passages(text: str, count: TokenCounter, policy: ChunkingPolicy, bounds: Bounds = Bounds()) -> None:
    document = Document(id="d", title="t", text=text)
    passages = bounded(lambda: chunk_document(document, count, policy), bounds)
    assert not isinstance(passages, Exception)
    previous_end = 0
    for ordinal, passage in enumerate(passages):
        assert passage.ordinal == ordinal and passage.document_id == "d"
        assert passage.text == text[passage.start:passage.end] and passage.text.strip()
        assert passage.start >= previous_end, "passages overlap or go backwards"
        assert text[previous_end:passage.start].strip() == "", "text between passages was dropped"
        assert count(passage.text) <= policy.max_tokens or len(passage.text) == 1, "over the window"
        previous_end = passage.end
    assert text[previous_end:].strip() == "", "text after the last passage was dropped"


@given(texts, st.lists(long_words, max_size=2))
def test_passages_are_exact_ordered_slices_within_the_real_window(
    count_tokens: TokenCounter, text: str, words: list[str]
) -> None:
    check_passages(" ".join([text, *words]), count_tokens, ChunkingPolicy())


@given(texts, st.lists(long_words, max_size=2), policies())
# Found by this test: a long word under a small window took 20 s (each piece searched the rest).
@example("", ["https://example.org/" * 300], ChunkingPolicy(max_tokens=1, target_tokens=1, max_sentences=1))
def test_passages_fit_any_policy(text: str, words: list[str], policy: ChunkingPolicy) -> None:
    check_passages(" ".join([*words, text]), count_words, policy)


def test_chunking_time_follows_the_text_length_not_its_square(count_tokens: TokenCounter) -> None:
    """100 KB without a sentence end (a pasted blob, text without punctuation) took 19 s of CPU
    with the real tokenizer, and a 10 MB file hours: every piece searched all the text after it."""
    for unit in ("ab+", "word "):
        check_passages((unit * (100_000 // len(unit))).strip(), count_tokens, ChunkingPolicy())
