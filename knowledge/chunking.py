"""Documents become passages: a few whole sentences that fit the embedding model's window.

The model reads at most 256 word pieces and silently drops the rest, so a passage that is too
long would be cited for words the index never saw. Every passage is therefore measured with
the model's own tokenizer, and a sentence too long for the window is cut at word boundaries
into pieces that fit, never truncated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from knowledge.documents import Document, Passage
from knowledge.sentences import Span, split_sentences

TokenCounter = Callable[[str], int]
"""Counts the word pieces of a text, without the model's special tokens."""


@dataclass(frozen=True)
class ChunkingPolicy:
    """How big a passage may be; `max_tokens` is the hard limit, the others are targets."""

    max_tokens: int = 254  # 256-token window less [CLS] and [SEP]
    target_tokens: int = 160
    max_sentences: int = 5
    min_tokens: int = 40  # a shorter passage continues across a paragraph break


def _longest_fit(
    text: str, start: int, ends: Sequence[int], first: int, count: TokenCounter, limit: int
) -> int:
    """Index into `ends` (from `first` on) of the longest `text[start:end]` within `limit`
    tokens, or `first` when even that is over.

    Gallops from `first` before bisecting, so finding one piece costs about its own length and
    not the length of everything after it: a long text with no sentence end (a pasted blob, a
    file without punctuation) would otherwise take time quadratic in its size.
    """
    low, step, last = first, 1, len(ends) - 1
    while low + step <= last and count(text[start : ends[low + step]]) <= limit:
        low += step
        step *= 2
    high = min(last, low + step - 1)
    while low < high:
        mid = (low + high + 1) // 2
        if count(text[start : ends[mid]]) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def _cut_long_word(text: str, start: int, end: int, count: TokenCounter, limit: int) -> list[tuple[int, int]]:
    """A 'word' with no spaces over the window (a long URL, a hash) is cut between characters."""
    pieces = []
    stops = range(start + 1, end + 1)  # the stop after `start` is at index start + 1 - stops.start
    while start < end:
        stop = stops[_longest_fit(text, start, stops, start + 1 - stops.start, count, limit)]
        pieces.append((start, stop))
        start = stop
    return pieces


def _cut_long_sentence(text: str, span: Span, count: TokenCounter, limit: int) -> list[Span]:
    """Cut one over-long sentence into pieces of at most `limit` tokens, at word boundaries
    where possible; every character of the sentence stays in exactly one piece."""
    atoms: list[tuple[int, int]] = []
    for match in re.finditer(r"\S+", text[span.start : span.end]):
        start, end = span.start + match.start(), span.start + match.end()
        if count(text[start:end]) <= limit:
            atoms.append((start, end))
        else:
            atoms.extend(_cut_long_word(text, start, end, count, limit))
    ends = [end for _, end in atoms]
    pieces: list[Span] = []
    first = 0
    while first < len(atoms):
        last = _longest_fit(text, atoms[first][0], ends, first, count, limit)
        pieces.append(Span(atoms[first][0], atoms[last][1], span.paragraph))
        first = last + 1
    return pieces


def chunk_document(
    document: Document, count: TokenCounter, policy: ChunkingPolicy = ChunkingPolicy()
) -> list[Passage]:
    """Group consecutive sentences into passages; `passage.text == document.text[start:end]`."""
    text = document.text
    units: list[tuple[Span, int]] = []
    for span in split_sentences(text):
        tokens = count(text[span.start : span.end])
        if tokens <= policy.max_tokens:
            units.append((span, tokens))
        else:
            for piece in _cut_long_sentence(text, span, count, policy.max_tokens):
                units.append((piece, count(text[piece.start : piece.end])))

    groups: list[list[tuple[Span, int]]] = []
    current: list[tuple[Span, int]] = []
    current_tokens = 0
    for span, tokens in units:
        if current:
            new_paragraph = span.paragraph != current[-1][0].paragraph
            full = (
                current_tokens + tokens > policy.target_tokens
                or len(current) >= policy.max_sentences
                or (new_paragraph and current_tokens >= policy.min_tokens)
            )
            if full or current_tokens + tokens > policy.max_tokens:
                groups.append(current)
                current, current_tokens = [], 0
        current.append((span, tokens))
        current_tokens += tokens
    if current:
        groups.append(current)

    passages = []
    for ordinal, group in enumerate(groups):
        start, end = group[0][0].start, group[-1][0].end
        passages.append(Passage(None, document.id, ordinal, text[start:end], start, end))
    return passages
