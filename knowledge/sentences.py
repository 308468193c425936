"""Sentence boundaries with character offsets, so every quote can point back into its source.

A rule-based splitter is enough for news English, Ukrainian and Russian and costs nothing to
load; it errs on the side of not splitting (an abbreviation is never the end of a sentence),
because a merged sentence is still a faithful quote while a cut one is not. Cyrillic text has
abbreviations of its own ("т. зв.", "ст.", "р.", "тис.", "м." for a town), and initials are
Cyrillic capitals ("В. Зеленський", "О. Ю. Шмигаль"); a lower-case Cyrillic letter alone is a
word ("я", "і"), so it ends a sentence unless it is one of the abbreviations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st gen lt col maj capt sgt adm gov sen rep pres rev
    no nos vol art fig ed eds est approx dept univ inc ltd co corp vs etc al jan feb mar apr
    jun jul aug sep sept oct nov dec e.g i.e a.m p.m u.s u.k u.n u.s.a e.u""".split()
)
# Ukrainian and Russian ones, lower case: "т. зв." and "т.зв." alike, "р." and "рр." (year,
# years), "м." and "г." (town, or year in Russian), "с." (village), "ст." (article, century).
_CYRILLIC_ABBREVIATIONS = frozenset(
    """т зв т.зв т.д т.п т.е т.к т.ч д п ч і.т.д ст р рр гг г м с ім им вул ул пл просп обл
    р-н р-ну тис млн млрд трлн грн руб коп дол див см напр проф акад доц д-р канд ген
    полк підполк ред изд вип вып стор стр ін др порівн тел кв""".split()
)
_CYRILLIC_INITIALS = re.compile(r"(?:[А-ЯЁІЇЄҐ]\.)*[А-ЯЁІЇЄҐ]")

# A candidate end: terminal punctuation, optional closing quotes/brackets, then white space.
_END = re.compile(r"[.!?…]+[\"'”’»“)\]]*(?=\s)")
_PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Span:
    """A sentence as `text[start:end]`; `paragraph` counts blank-line-separated blocks."""

    start: int
    end: int
    paragraph: int


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` belongs to an abbreviation or an initial (J. Smith)."""
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace() and text[word_start - 1] not in "(\"'“‘«„":
        word_start -= 1
    word = text[word_start:dot].lower()
    if word in _ABBREVIATIONS or word in _CYRILLIC_ABBREVIATIONS:
        return True
    # Initials and dotted acronyms: "J.", "U.S.", "N.A.T.O.", "В.", "О.Ю."
    return bool(re.fullmatch(r"(?:[a-z]\.)*[a-z]", word) or _CYRILLIC_INITIALS.fullmatch(text[word_start:dot]))


def _starts_sentence(text: str, index: int) -> bool:
    """A sentence starts with a capital, digit, quote or bracket (not a lower-case word)."""
    while index < len(text) and text[index].isspace():
        index += 1
    if index >= len(text):
        return True
    char = text[index]
    return char.isupper() or char.isdigit() or char in "\"'“‘«„([•-–—"


def _sentences_in_block(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    cursor = start
    for match in _END.finditer(text, start, end):
        stop = match.end()
        if _is_abbreviation(text, match.start()) and match.end() - match.start() == 1:
            continue
        if not _starts_sentence(text, stop):
            continue
        yield cursor, stop
        cursor = stop
    yield cursor, end


def split_sentences(text: str) -> list[Span]:
    """Split into sentences; paragraphs (blank lines) always end one. Spans exclude white space."""
    spans: list[Span] = []
    block_start = 0
    blocks: list[tuple[int, int]] = []
    for match in _PARAGRAPH.finditer(text):
        blocks.append((block_start, match.start()))
        block_start = match.end()
    blocks.append((block_start, len(text)))
    for paragraph, (b_start, b_end) in enumerate(blocks):
        for s_start, s_end in _sentences_in_block(text, b_start, b_end):
            while s_start < s_end and text[s_start].isspace():
                s_start += 1
            while s_end > s_start and text[s_end - 1].isspace():
                s_end -= 1
            if s_end > s_start:
                spans.append(Span(s_start, s_end, paragraph))
    return spans
