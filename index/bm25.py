"""BM25 (Lucene's variant) built from texts that arrive in chunks, with bm25s's exact scores.

bm25s builds from every text and every token list at once: at a million passages its build
peaked near 5 GB for a matrix of 0.6 GB, and the process kept most of that afterwards. Here each
chunk of texts is tokenized as bm25s tokenizes (lower case, words of two or more word
characters, bm25s's English stop words, then Snowball English stems; Cyrillic words of a
Ukrainian or Russian text get that language's stemmer and stop words, knowledge.stemming) and
reduced at once to
compact postings (a 16-bit row and a small term frequency each); the column-major matrix of
BM25 weights is filled in once the document frequencies and the mean length are known. The
weights are computed with the same float operations as bm25s's "lucene" method, and a question
adds them up in the same order, so the scores are bm25s's (tests/index/test_lexical.py).
"""

from __future__ import annotations

import logging
import math
import mmap
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

import numpy as np

from knowledge.language import Language
from knowledge.stemming import (
    cyrillic_language,
    cyrillic_stemmer,
    cyrillic_stop_words,
    english_stemmer,
    is_cyrillic_word,
    joined_apostrophes,
)

_WORDS = re.compile(r"(?u)\b\w\w+\b").findall  # bm25s's (and scikit-learn's) token pattern

_NOT_WORD = "\u2019\u201c\u201d\u2018\u2013\u2014\u2026\u00a3\u20ac\u00a0\u200b"
"""The non-ASCII characters most frequent in English news (quotes, dashes, ellipsis, currency,
no-break and zero-width spaces), none of them a word character: a space in their place changes
no word, and makes most texts ASCII."""

_ASCII_WORDS = bytes(ord(chr(c).lower()) if c < 128 and re.fullmatch(r"\w", chr(c)) else 32
                     for c in range(256))
"""bytes.translate table: a word character to its lower case, anything else to a space."""

_LETTERS = [bytes([c]) for c in set(_ASCII_WORDS) - {32}]  # one-letter words, which bm25s skips

MAX_CHUNK = 1 << 16  # rows of a chunk are stored in 16 bits
_GIL_SLICE = 256  # texts whose words are looked up in one C-level pass (see _term_ids_of)


def _words(text: str) -> Sequence[str | bytes]:
    """The lower-cased words of `text` that bm25s finds. An ASCII text (most texts, once the
    usual typographic punctuation is replaced) is split by bytes.translate and bytes.split,
    three times faster than the regular expression: the same words, as bytes, plus one-letter
    words that the term table skips."""
    if not text.isascii():
        for character in _NOT_WORD:
            text = text.replace(character, " ")
        if not text.isascii():
            return _WORDS(text.lower())
    return text.encode().translate(_ASCII_WORDS).split()


def text_language(text: str) -> Language | None:
    """The language whose stemmer a text's Cyrillic words get, decided once for the text; None
    (every word English, as before Cyrillic was known) for a text without Cyrillic."""
    return None if text.isascii() else cyrillic_language(text)


def _stop_words() -> frozenset[str]:
    """bm25s's English stop words (the index used bm25s itself before it streamed)."""
    from bm25s.stopwords import STOPWORDS_EN

    # bm25s sets its own logger to DEBUG at import, which would print its chatter through
    # the CLI's handler whatever --log-level says.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return frozenset(STOPWORDS_EN)


class QuestionTokenizer:
    """A question's stems, in order and with repeats (a repeated word counts twice, as in bm25s).
    One per thread."""

    def __init__(self) -> None:
        english = english_stemmer()
        self._stem = english.stemWords
        self._stem_word = english.stemWord
        self._stop = _stop_words()
        self._cyrillic: dict[Language, Callable[[str], str]] = {}

    def stems(self, text: str) -> list[str]:
        language = text_language(text)
        if language is None:
            return list(self._stem([w for w in _WORDS(text.lower()) if w not in self._stop]))
        cyrillic = self._cyrillic.get(language) or self._cyrillic.setdefault(language, cyrillic_stemmer(language))
        cyrillic_stop = cyrillic_stop_words(language)
        stems = []
        for word in _WORDS(joined_apostrophes(text).lower()):
            if is_cyrillic_word(word):
                if word not in cyrillic_stop:
                    stems.append(cyrillic(word))
            elif word not in self._stop:
                stems.append(self._stem_word(word))
        return stems


class _TermIds(dict[str | bytes, int]):
    """Word (str, or bytes if ASCII) -> term id, -1 for a word to skip. A new word is stemmed
    once and gets its stem's id, so the hot path is one C-level dict lookup per word. One table
    per `language` of the texts' Cyrillic words (None: English only); all share `terms`."""

    def __init__(self, terms: dict[str, int], language: Language | None = None) -> None:
        stop = _stop_words()
        skipped: list[str | bytes] = [*stop, *(word.encode() for word in stop), *_LETTERS]
        if language is not None:
            skipped.extend(cyrillic_stop_words(language))
        super().__init__(dict.fromkeys(skipped, -1))
        self._terms = terms
        self._stem = english_stemmer().stemWord
        self._cyrillic = cyrillic_stemmer(language) if language is not None else self._stem

    def __missing__(self, word: str | bytes) -> int:
        text = word.decode() if isinstance(word, bytes) else word
        stem = self._cyrillic(text) if is_cyrillic_word(text) else self._stem(text)
        term = self._terms.setdefault(stem, len(self._terms))
        self[word] = term
        return term


def _mapped(count: int, dtype: type[np.generic]) -> np.ndarray:
    """An empty array in memory mapped for it alone, in small pages.

    The build keeps every chunk's postings until it fills the matrix. In malloc's heap, between
    the chunks' temporaries, that memory stayed with the process after the build (about 200 MB at
    a million passages, per building thread); a mapping goes back to the system as soon as its
    array is dropped. And numpy would ask for huge pages for the matrix, which the first chunk's
    writes, scattered over every term, make resident at once (the whole matrix beside all the
    postings); in small pages the matrix grows as the chunks copied into it are released.
    """
    size = np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, max(count * size, 1)), dtype=dtype, count=count)


def _outside_the_heap(array: np.ndarray) -> np.ndarray:
    """A copy of `array` in its own mapping (see _mapped)."""
    copy = _mapped(len(array), array.dtype.type)
    copy[:] = array
    return copy


class _Chunk(NamedTuple):
    """Postings of one chunk, ordered by term then row: `counts[i]` postings of `terms[i]`."""

    first_row: int
    terms: np.ndarray  # int32, ascending
    counts: np.ndarray  # int32
    rows: np.ndarray  # uint16, relative to first_row
    frequencies: np.ndarray  # the smallest unsigned type that holds them


@dataclass(frozen=True)
class Bm25Matrix:
    """BM25 weights by term: rows `indices[indptr[t]:indptr[t + 1]]` contain term `t`, with
    weights `data[...]`; row `r` is passage `ids[r]` (ascending)."""

    ids: np.ndarray  # int64
    terms: dict[str, int]  # stem -> term id
    indptr: np.ndarray  # int64
    indices: np.ndarray  # int32
    data: np.ndarray  # float32

    @property
    def nnz(self) -> int:
        return len(self.data)

    @property
    def nbytes(self) -> int:
        """Memory of the arrays (the stem dictionary is small beside them)."""
        return self.ids.nbytes + self.indptr.nbytes + self.indices.nbytes + self.data.nbytes

    def scores(self, stems: Sequence[str]) -> np.ndarray:
        """BM25 score of every row (float32), summed term by term as bm25s sums them."""
        out = np.zeros(len(self.ids), dtype=np.float32)
        for stem in stems:
            term = self.terms.get(stem)
            if term is not None:
                start, end = self.indptr[term], self.indptr[term + 1]
                np.add.at(out, self.indices[start:end], self.data[start:end])
        return out


    def idf(self, stems: Sequence[str]) -> dict[str, float]:
        """BM25's (Lucene's) idf of each of `stems` that some row holds, from its document
        frequency (the length of its column)."""
        passages = len(self.ids)
        weights = {}
        for stem in stems:
            term = self.terms.get(stem)
            if term is not None:
                holding = int(self.indptr[term + 1] - self.indptr[term])
                if holding:
                    weights[stem] = math.log(1 + (passages - holding + 0.5) / (holding + 0.5))
        return weights


class Bm25Builder:
    """Takes passages chunk by chunk (ids ascending across chunks), then makes the matrix."""

    def __init__(self, k1: float, b: float) -> None:
        self.k1 = k1
        self.b = b
        self._terms: dict[str, int] = {}
        self._term_ids: dict[Language | None, _TermIds] = {None: _TermIds(self._terms)}
        self._ids: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        self._chunks: list[_Chunk] = []
        self._rows = 0

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        """Tokenize one chunk (at most MAX_CHUNK texts) and keep only its postings."""
        n = len(texts)
        if n > MAX_CHUNK or n != len(ids):
            raise ValueError(f"a chunk holds one id per text and at most {MAX_CHUNK} texts")
        languages = [text_language(text) for text in texts]
        words = [_words(joined_apostrophes(text) if language else text)
                 for text, language in zip(texts, languages)]
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=n)
        terms = np.concatenate([self._term_ids_of(words[first : first + _GIL_SLICE],
                                                  languages[first : first + _GIL_SLICE])
                                for first in range(0, n, _GIL_SLICE)] or [np.zeros(0, np.int64)])
        del words
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        kept = terms >= 0
        terms, rows = terms[kept], rows[kept]
        self._ids.append(np.asarray(ids, dtype=np.int64))
        self._lengths.append(np.bincount(rows, minlength=n).astype(np.int32))
        pairs, frequencies = np.unique(terms * n + rows, return_counts=True)  # by term, then row
        chunk_terms, counts = np.unique(pairs // n, return_counts=True)
        small = np.min_scalar_type(int(frequencies.max(initial=0)))
        self._chunks.append(_Chunk(self._rows, chunk_terms.astype(np.int32), counts.astype(np.int32),
                                   _outside_the_heap((pairs % n).astype(np.uint16)),
                                   _outside_the_heap(frequencies.astype(small))))
        self._rows += n

    def _term_ids_of(self, words: Sequence[Sequence[str | bytes]],
                     languages: Sequence[Language | None]) -> np.ndarray:
        """One C-level pass over the words of a few texts. It holds the GIL throughout, and a
        background build runs beside questions: a slice of 256 texts keeps their wait for the
        GIL to a few milliseconds. Texts with Cyrillic words go through their language's table."""
        if not any(languages):
            return np.fromiter(map(self._term_ids[None].__getitem__, chain.from_iterable(words)), dtype=np.int64)
        tables = [self._table(language) for language in languages]
        return np.fromiter(chain.from_iterable(map(table.__getitem__, text_words)
                                               for table, text_words in zip(tables, words)), dtype=np.int64)

    def _table(self, language: Language | None) -> _TermIds:
        table = self._term_ids.get(language)
        if table is None:
            table = self._term_ids[language] = _TermIds(self._terms, language)
        return table

    def finish(self) -> Bm25Matrix:
        """The weight matrix; the chunks are released one by one as they are copied in."""
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, dtype=np.int64)
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, dtype=np.int32)
        self._ids, self._lengths = [], []
        frequency = np.zeros(len(self._terms), dtype=np.int64)  # passages that hold each term
        for chunk in self._chunks:
            frequency[chunk.terms] += chunk.counts
        indptr = np.zeros(len(self._terms) + 1, dtype=np.int64)
        np.cumsum(frequency, out=indptr[1:])
        indices = _mapped(int(indptr[-1]), np.int32)
        data = _mapped(int(indptr[-1]), np.float32)
        if len(data):
            self._fill(indptr, indices, data, self._idf(frequency, len(ids)), self._norms(lengths))
        return Bm25Matrix(ids, self._terms, indptr, indices, data)

    @staticmethod
    def _idf(frequency: np.ndarray, passages: int) -> np.ndarray:
        """Lucene's idf, with math.log as bm25s computes it (numpy's log may differ in the last
        bit), rounded to float32 as bm25s stores it."""
        values = [math.log(1 + (passages - df + 0.5) / (df + 0.5)) for df in frequency.tolist()]
        return np.asarray(values, dtype=np.float64).astype(np.float32)

    def _norms(self, lengths: np.ndarray) -> np.ndarray:
        """k1 * (1 - b + b * length / mean length) of each row, in bm25s's order of operations."""
        return self.k1 * ((1 - self.b) + self.b * lengths / lengths.mean())

    def _fill(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, idf: np.ndarray,
              norms: np.ndarray) -> None:
        head = indptr[:-1].copy()  # where each term's next posting goes
        self._chunks.reverse()
        while self._chunks:
            chunk = self._chunks.pop()
            starts = np.cumsum(chunk.counts) - chunk.counts  # each term's first posting in the chunk
            at = np.repeat(head[chunk.terms] - starts, chunk.counts) + np.arange(len(chunk.rows))
            rows = chunk.rows.astype(np.int64) + chunk.first_row
            tf = chunk.frequencies.astype(np.float64)
            weight = idf[np.repeat(chunk.terms, chunk.counts)] * (tf / (norms[rows] + tf))
            indices[at] = rows
            data[at] = weight  # float64 rounded to float32, as bm25s stores it
            head[chunk.terms] += chunk.counts
