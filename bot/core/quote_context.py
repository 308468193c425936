"""The context a quoted sentence cannot do without, found in the sentences around it.

A sentence copied alone can mislead. "The city, which was returning to normal life..." does
not say which city; "“We have official statistics – about 200 dead”" does not say who speaks;
"they were caused by Ukraine shelling Bucha,” reads the article" quoted from a report that
debunks it presents propaganda as fact. So a chosen sentence grows into a contiguous span of
its passage:

- a sentence opening with a referring word (This, It, They, The city, The move...) brings the
  sentence before it, and so on while that one refers back too;
- a quotation keeps its speaker: a quote cut by the sentence splitter brings its other part,
  and a bare quote brings the sentence before it, which introduces the speaker;
- a claim next to a rebuttal ("false", "no evidence", "denied", "propaganda"...) brings the
  rebuttal; a claim in a debunking article (or a fact check) with no rebuttal beside it is
  `rebutted` and must not be quoted at all.

A span never leaves its passage and never exceeds `MAX_SENTENCES`: a sentence that would need
more context than that is `rebutted` (if the missing part is a rebuttal) or quoted with what fits;
one whose antecedent is in another passage (it opens its passage with "The city...") is an
`orphan` and not quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

MAX_SENTENCES = 4
# Each sentence's cues are computed once: answers to similar questions quote the same passages,
# and a passage's sentences are each other's context.
_CACHED = 8192

_REFERRING = re.compile(
    r"^[\W_]*(?:This|That|These|Those|It|Its|It’s|It's|He|She|They|Them|His|Her|Their|Such|Both|"
    r"However|But|Yet|Still|Instead|Nonetheless|Nevertheless|Thus|Hence|Therefore|Then|"
    r"Он|Она|Оно|Они|Это|Этот|Эта|Він|Вона|Воно|Вони|Це|Цей|Ця|Їх|Его|Її|Их|"
    r"The (?:latter|former|same|city|town|village|region|country|move|decision|attack|strike|"
    r"strikes|plant|ministry|statement|report|claim|claims|incident|operation|offensive|"
    r"official|officials|president|minister|governor|spokesperson|spokesman|agency|group|"
    r"company|deal|bill|law|measure|plan|proposal|announcement|visit|talks|meeting|agreement|"
    r"leader|army|troops|forces|soldiers|fighters|men|women|two|three|victims|bodies|video|"
    r"footage|images|photos|letter|article|account|post|source|sources|capital|site|area|"
    r"building|facility|blast|explosion|missile|missiles|weapons|system|systems|package|"
    r"sanctions|ban|order|ruling|court|verdict|trial|case|investigation|allegations|"
    r"accusation|accusations))\b")
_ATTRIBUTION = re.compile(
    r"\b(?:said|says|say|told|tells|according to|claimed|claims|wrote|writes|added|adds|reads|"
    r"stated|states|announced|insisted|argued|asserted|alleged|accused|reported|tweeted|posted|"
    r"declared|warned|noted|explained|denied|confirmed|suggested|replied|responded|urged|"
    r"сказал|заявил|сказав|заявив)\b", re.IGNORECASE)
_CLAIM = re.compile(
    r"\b(?:claim(?:ed|s|ing)?|alleg\w*|insist(?:ed|s|ing)?|assert(?:ed|s|ing)?|accus\w*|"
    r"blam(?:ed|es|ing)|reads|according to|said|says|told|state (?:media|tv|television)|"
    r"purported\w*|supposed(?:ly)?)\b|[“”\"«»]", re.IGNORECASE)
_REBUTTAL = re.compile(
    r"\b(?:false(?:ly|hood|hoods)?|debunk\w*|no evidence|without evidence|not supported by|"
    r"den(?:y|ied|ies|ying)|propaganda|disinformation|misinformation|fake\w*|mistranslat\w*|"
    r"baseless|unfounded|untrue|not true|lie|lies|lying|myths?|fabricat\w*|hoax\w*|"
    r"rejected the claim|dismissed the claim|conspiracy|doctored|manipulat\w*|no basis|"
    r"misleading|distort\w*|bogus|nonsense|groundless|unsubstantiated|unverified|"
    r"фейк\w*|неправд\w*|брехн\w*|ложь|дезінформац\w*|дезинформац\w*)\b", re.IGNORECASE)
_CLAIM_WORD = re.compile(r"\bclaim", re.IGNORECASE)
_BUT = re.compile(r"\b(?:but|however|though|although)\b", re.IGNORECASE)
_CAPTION = re.compile(
    r"^\W*\d{1,2}[:.]\d{2}\b|[–—-]\s*(?:video|photos?|pictures|audio|live|in pictures)\W*$|"
    r"^\W*(?:Photograph|Photo|Video|Watch|Composite)\s*:", re.IGNORECASE)
_OPEN_QUOTES = "“«„"
_CLOSE_QUOTES = "”»"


@lru_cache(maxsize=_CACHED)
def refers_back(sentence: str) -> bool:
    """True when the sentence opens with a word that points at the one before it."""
    return _REFERRING.match(sentence) is not None


@lru_cache(maxsize=_CACHED)
def is_rebuttal(text: str) -> bool:
    """True when the text disputes a claim ("false", "no evidence", "denied", "propaganda"...,
    or a claim followed by "but")."""
    if _REBUTTAL.search(text) is not None:
        return True
    claim = _CLAIM_WORD.search(text)
    return claim is not None and _BUT.search(text, claim.end()) is not None


_QUOTED = re.compile(r"“[^”]*”|«[^»]*»|\"[^\"]*\"")


@lru_cache(maxsize=_CACHED)
def rebuts_in_own_voice(text: str) -> bool:
    """A rebuttal outside any quotation: "propaganda is lying", inside the quotation marks of
    the man who says it, is his claim, not the article's rebuttal of it."""
    return is_rebuttal(_QUOTED.sub(" ", text))


@lru_cache(maxsize=_CACHED)
def is_caption(sentence: str) -> bool:
    """A video or photo caption left in the text ("01:34 Bucha resident recounts... – video"):
    a label, not a statement, so never quoted as an answer."""
    return _CAPTION.search(sentence) is not None


@lru_cache(maxsize=_CACHED)
def is_claim(sentence: str) -> bool:
    """True when the sentence reports what someone says (a quote, "claimed", "according to")."""
    return _CLAIM.search(sentence) is not None


@lru_cache(maxsize=_CACHED)
def _quote_balance(sentence: str) -> int:
    """Quotations opened minus closed in the sentence (typographic marks, or straight ones
    counted as opening at a word's start and closing at its end)."""
    balance = sum(sentence.count(c) for c in _OPEN_QUOTES) - sum(sentence.count(c) for c in _CLOSE_QUOTES)
    for match in re.finditer(r'"', sentence):
        before = sentence[match.start() - 1] if match.start() else " "
        balance += 1 if before.isspace() or before in "([" else -1
    return balance


@lru_cache(maxsize=_CACHED)
def _has_attribution(sentence: str) -> bool:
    return _ATTRIBUTION.search(sentence) is not None


@lru_cache(maxsize=_CACHED)
def _bare_quote(sentence: str) -> bool:
    """A quotation with nobody named as its speaker in the sentence itself."""
    stripped = sentence.lstrip()
    return bool(stripped) and stripped[0] in _OPEN_QUOTES + '"' and not _has_attribution(sentence)


@dataclass(frozen=True)
class Context:
    """Sentences `first`..`last` (inclusive) of a passage, to be quoted as one span."""

    first: int
    last: int
    reasons: tuple[str, ...] = ()
    rebutted: bool = False  # a claim whose rebuttal cannot come with it: not to be quoted
    orphan: bool = False  # refers back to a sentence outside the passage (or the span): not to be quoted

    @property
    def quotable(self) -> bool:
        return not (self.rebutted or self.orphan)


def quote_context(sentences: Sequence[str], index: int, disputed_source: bool = False) -> Context:
    """The span around `sentences[index]` that quoting it needs.

    `disputed_source`: the document debunks claims (its title says "propaganda", "false"...,
    or it is a fact check), so any claim in it needs its rebuttal beside it.
    """
    first = last = index
    reasons: list[str] = []

    def fits(new_first: int, new_last: int) -> bool:
        return new_last - new_first + 1 <= MAX_SENTENCES

    # A quotation split across sentences: take all of it, speaker included.
    while first > 0 and sum(map(_quote_balance, sentences[first:index + 1])) < 0 and fits(first - 1, last):
        first -= 1
        _add(reasons, "keeps the speaker")
    while last + 1 < len(sentences) and sum(map(_quote_balance, sentences[first:last + 1])) > 0 \
            and fits(first, last + 1):
        last += 1
        _add(reasons, "keeps the speaker")
    if first > 0 and _bare_quote(sentences[first]) and not any(map(_has_attribution, sentences[first:last + 1])) \
            and fits(first - 1, last):
        first -= 1
        _add(reasons, "keeps the speaker")
    # Referring words: bring what they refer to, as far back as the chain goes.
    while first > 0 and refers_back(sentences[first]) and fits(first - 1, last):
        first -= 1
        _add(reasons, "brings its antecedent")
    # "The city, which was returning to normal life..." opening a passage: which city is in
    # another passage (or beyond the span's limit), so it cannot be quoted faithfully.
    orphan = refers_back(sentences[first])
    rebutted = False
    span = sentences[first:last + 1]
    if not any(map(rebuts_in_own_voice, span)):
        before = first > 0 and is_rebuttal(sentences[first - 1])
        after = last + 1 < len(sentences) and is_rebuttal(sentences[last + 1])
        claim = any(map(is_claim, span))
        if after and fits(first, last + 1):
            last += 1
            _add(reasons, "keeps the rebuttal")
        elif before and fits(first - 1, last):
            first -= 1
            _add(reasons, "keeps the rebuttal")
        elif before or after or (claim and disputed_source):
            rebutted = True
    return Context(first, last, tuple(reasons), rebutted, orphan)


def disputed_source(title: str, fact_check: bool) -> bool:
    """A document that debunks claims: a fact check, or one whose title disputes something."""
    return fact_check or is_rebuttal(title)


def _add(reasons: list[str], reason: str) -> None:
    if reason not in reasons:
        reasons.append(reason)
