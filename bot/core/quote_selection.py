"""Which spans of the accepted passages answer the question, and in what order.

After the relevance gate has accepted passages, the answer is chosen sentence by sentence:

1. Passages must be set in the places the question names (`bot.core.place_setting`): a
   paragraph that follows paragraphs about Kreminna does not answer "How many were killed in
   Bucha?". If no accepted passage is, there is no answer. Other names (people, organisations) lift the
   sentences that mention them but are not insisted on: a quiz's evidence often calls them
   otherwise ("the company", "the singer"). With several places, one is enough.
2. Sentences are ranked by the sentence ranker's log-odds that they hold the answer
   (`bot.core.sentence_ranking`: their cosine, their passage's gate probability and place in
   the retrieval, the question's rare terms they contain...), lifted a little by what the
   question type asks for (a number for "how many", a date for "when",
   see `bot.core.question_types`), a direct mention of the named entity, and a fact check for
   "is it true...". A claim that needs its rebuttal beside it is ranked lower.
3. The best sentence leads; for "is it true...?" the best sentence of a fact check when there
   is one, for "what is the latest..." the best sentence of the newest source. More sentences join when close to it (any sentence of the lead's own passage
   that clears the floor).
4. Every chosen sentence grows into the span it needs (`bot.core.quote_context`), which must
   still mention the named entity; spans of one passage that touch are merged. The lead span
   also takes in its neighbours up to `lead_words`, every other span up to `span_words`
   (`QuoteSelection._widen`): "“I have lost count of the conversations,” Macron said." is
   followed by "They amounted to 100 hours' worth, he added".

No model runs here: the sentence vectors and cosines come from the composer.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from bot.core.place_setting import PlaceSetting
from bot.core.question_entities import Entity, mentions_any, places
from bot.core.question_types import QuestionType, type_bonus
from bot.core.quote_context import MAX_SENTENCES, Context, disputed_source, is_caption, quote_context
from index.recency import published_date
from index.retriever import ScoredPassage
from knowledge.documents import Kind

ENTITY_BONUS = 0.04  # for each name of the question the sentence itself mentions
FACT_CHECK_BONUS = 0.06  # "is it true...?" and the source is a fact check
CONTESTED_PENALTY = 0.10  # a claim quoted with its rebuttal: an answer only when nothing else is


@dataclass(frozen=True)
class Reading:
    """What the selection needs to know about the question."""

    kind: QuestionType
    entities: list[Entity] = field(default_factory=list)  # required: see `required_entities`
    newest_first: bool = False  # "latest", "now", "this week"...
    known_by: date = date.max  # sources dated later were not there to read on the day asked

    def newness(self, hit: ScoredPassage) -> tuple[bool, date]:
        """Sorts sources oldest to newest as of the day asked: any dated after it comes first."""
        return published_by(hit, self.known_by), _published(hit)

    @property
    def places(self) -> list[Entity]:
        return places(self.entities)


@dataclass(frozen=True)
class PassageSentences:
    """A candidate passage and the (start, end) of each quotable sentence in its text."""

    hit: ScoredPassage
    spans: list[tuple[int, int]]

    @property
    def texts(self) -> list[str]:
        text = self.hit.stored.passage.text
        return [text[start:end] for start, end in self.spans]

    @property
    def title(self) -> str:
        return self.hit.stored.document.title


@dataclass(frozen=True)
class SentenceRef:
    passage: int  # index into the passages
    index: int  # index into that passage's sentences


@dataclass(frozen=True)
class ChosenSpan:
    """Sentences `first`..`last` of passage `passage`, quoted as one contiguous span."""

    passage: int
    first: int
    last: int
    score: float  # the best cosine with the question among its sentences
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SelectionPolicy:
    min_sentence_score: float = 0.30
    max_sentences: int = 3  # sentences chosen on their own merit; their context comes on top
    max_quoted_sentences: int = 6  # everything quoted, context included
    sentence_margin: float = 0.15  # sentences from other passages must be this close to the lead
    duplicate_cosine: float = 0.90
    lead_words: int = 0  # the lead span grows into its neighbours up to this many words (0: not at all)
    span_words: int = 0  # and every other span up to this many
    bonus_scale: float = 1.0  # the bonuses below are in cosines; times this on the ranking's scale


DocumentText = Callable[[str], str]  # document id -> its whole text ("" when it is gone)


def set_before(hit: ScoredPassage, setting: PlaceSetting, document_text: DocumentText | None) -> bool | None:
    """Where the document is set just before the passage (None: it does not say, or unknown)."""
    passage = hit.stored.passage
    if document_text is None or passage.start <= 0:
        return None
    return setting.before(document_text(passage.document_id), passage.start)


def set_there(hit: ScoredPassage, setting: PlaceSetting, document_text: DocumentText | None) -> bool:
    """The passage is about one of the question's places (any one: "Britain and France" may be
    written "the United Kingdom and France"): it or its title names one (or a place within
    one), or it names no place and the paragraphs before it are set there, or nothing says
    where it is set at all."""
    stored = hit.stored
    if setting.mentions(stored.document.title) or setting.mentions(stored.passage.text):
        return True
    if setting.elsewhere(stored.passage.text):
        return False
    before = set_before(hit, setting, document_text)
    if before is not None:
        return before
    return not setting.elsewhere(stored.document.title)


def candidate_passages(relevant: list[ScoredPassage], reading: Reading, count: int,
                       document_text: DocumentText | None = None) -> list[ScoredPassage]:
    """Up to `count` accepted passages to quote from, best first: only those set in the places
    the question names (none: no answer); other names only lift the sentences that mention
    them (see `question_entities.places`). For "latest" questions the newest passage is
    always among them. `document_text` lets a passage that names no place take its setting
    from the paragraphs before it."""
    setting = PlaceSetting(reading.places, reading.entities) if reading.places else None
    found = (h for h in relevant if setting is None or set_there(h, setting, document_text))
    if not reading.newest_first:
        # Judged in order and no further than needed: a passage's setting may mean reading
        # the paragraphs before it.
        return list(islice(found, count))
    about = list(found)
    chosen = about[:count]
    if about:
        newest = max(about, key=reading.newness)
        if newest not in chosen:
            chosen = chosen[: count - 1] + [newest]
    return chosen


def published_by(hit: ScoredPassage, day: date) -> bool:
    """The passage's source was published on or before `day` (or carries no date)."""
    published = published_date(hit.stored.document.published)
    return published is None or published <= day


def _published(hit: ScoredPassage) -> date:
    return published_date(hit.stored.document.published) or date.min


class QuoteSelection:
    """Ranks the sentences of the candidate passages and grows the chosen ones into spans."""

    def __init__(self, reading: Reading, passages: list[PassageSentences], policy: SelectionPolicy,
                 document_text: DocumentText | None = None) -> None:
        """Only sentences that may be quoted become `refs` (so only they are embedded): not a
        caption, not a claim without its rebuttal, not a sentence whose context is missing,
        and within a span that mentions the question's names."""
        self.reading = reading
        self.passages = passages
        self.policy = policy
        self._texts = [passage.texts for passage in passages]
        # Which of the question's names each sentence (and each title) mentions, found once.
        self._named = [[mentions_any(reading.entities, text) for text in texts] for texts in self._texts]
        self._title_named = [bool(mentions_any(reading.entities, p.title)) for p in passages]
        self._setting = PlaceSetting(reading.places, reading.entities) if reading.places else None
        self._document_text = document_text
        self._before: dict[int, bool | None] = {}  # passage -> its setting from the text before it
        self._title_places = [bool(self._setting and self._setting.mentions(p.title)) for p in passages]
        self.refs: list[SentenceRef] = []
        self._contexts: list[Context] = []
        for p, passage in enumerate(passages):
            document = passage.hit.stored.document
            disputed = disputed_source(document.title, document.kind == Kind.FACT_CHECK)
            texts = self._texts[p]
            for i, text in enumerate(texts):
                if is_caption(text):
                    continue
                context = quote_context(texts, i, disputed)
                if context.orphan and context.first == 0 and passage.hit.stored.passage.start == 0:
                    # The document's opening sentence ("The ministry said..."): nothing comes
                    # before it, so its subject is not in another passage.
                    context = replace(context, orphan=False)
                setting = self._set_at_place(p, context) if context.quotable else None
                if setting is not None:
                    self.refs.append(SentenceRef(p, i))
                    self._contexts.append(replace(context, reasons=context.reasons + setting))

    def _fact_check(self, passage: int) -> bool:
        return self.passages[passage].hit.stored.document.kind == Kind.FACT_CHECK

    def text(self, ref: SentenceRef) -> str:
        return self._texts[ref.passage][ref.index]

    def rank(self, ranking: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
        """The ranking score of each sentence (`ranking`, the sentence ranker's log-odds or the
        cosines, with bonuses for what the question asks for) and why it got them."""
        ranks = np.empty(len(self.refs))
        reasons: list[list[str]] = []
        scale = self.policy.bonus_scale
        for n, ref in enumerate(self.refs):
            text = self.text(ref)
            value = float(ranking[n])
            bonuses = 0.0
            why: list[str] = []
            bonus, reason = type_bonus(self.reading.kind, text)
            if bonus:
                bonuses += bonus
                why.append(reason)
            named = self._named[ref.passage][ref.index]
            if named:
                bonuses += ENTITY_BONUS * len(named)
                why.append("mentions " + ", ".join(e.name for e in named))
            if self.reading.kind is QuestionType.IS_IT_TRUE and self._fact_check(ref.passage):
                bonuses += FACT_CHECK_BONUS
                why.append("fact check")
            if "keeps the rebuttal" in self._contexts[n].reasons:
                bonuses -= CONTESTED_PENALTY
            ranks[n] = value + scale * bonuses
            reasons.append(why)
        return ranks, reasons

    def context(self, n: int) -> Context:
        """The span sentence `n` (of `refs`) needs."""
        return self._contexts[n]

    def _set_at_place(self, passage: int, context: Context) -> tuple[str, ...] | None:
        """Whether the span is set in a place the question names (None: it is not), with the
        reason to show when that is not plain from the span itself. It is when it names the
        place; or it names no other place and its title or the nearest sentence before it
        that names one (in the passage, then in the paragraphs before the passage) names the
        question's place; or nothing says where it is set."""
        setting = self._setting
        if setting is None:
            return ()
        texts = self._texts[passage]
        span = range(context.first, context.last + 1)
        if any(setting.mentions(texts[i]) for i in span):
            return ()
        if any(setting.elsewhere(texts[i]) for i in span):
            return None
        if context.first > 0 and setting.mentions(texts[context.first - 1]):
            return ("set there by the sentence before it",)
        if self._title_places[passage]:
            return ("set there by its title",)
        found = setting.nearest([texts[i] for i in range(context.first - 2, -1, -1)])
        if found is not None:
            return ("set there by an earlier sentence",) if found else None
        if passage not in self._before:
            self._before[passage] = set_before(self.passages[passage].hit, setting, self._document_text)
        if self._before[passage] is not None:
            return ("set there by the paragraphs before it",) if self._before[passage] else None
        if setting.elsewhere(self.passages[passage].title):
            return None
        return ("nothing says where it is set",)

    def choose(self, scores: np.ndarray, vectors: np.ndarray, ranking: np.ndarray | None = None) -> list[ChosenSpan]:
        """The spans to quote, in reading order (passages in the order first chosen). `scores`
        are the sentences' cosines with the question (the floor and the margin are in cosines),
        `ranking` what orders them (the sentence ranker's log-odds; the cosines when None)."""
        if not self.refs:
            return []
        ranks, bonus_reasons = self.rank(scores if ranking is None else ranking)
        if ranking is not None:  # shown beside the cosine: the ranking is what chose the sentence
            bonus_reasons = [[f"log-odds {float(ranking[n]):+.2f}", *why] for n, why in enumerate(bonus_reasons)]
        order = [int(n) for n in np.argsort(-ranks, kind="stable") if scores[n] >= self.policy.min_sentence_score]
        if not order:
            return []
        lead = order[0]
        newest = False
        checks = [n for n in order if self._fact_check(self.refs[n].passage)]
        if self.reading.kind is QuestionType.IS_IT_TRUE and checks:
            lead = checks[0]  # "is it true...?": a fact check answers first when there is one
        elif self.reading.newest_first:
            newest_passage = max({self.refs[n].passage for n in order},
                                 key=lambda p: self.reading.newness(self.passages[p].hit))
            lead = next(n for n in order if self.refs[n].passage == newest_passage)
            newest = True
        spans: list[list[int]] = []  # [passage, first, last, seed]
        reasons: dict[int, list[str]] = {}
        seeds = [lead]
        self._add_span(spans, reasons, lead, scores, bonus_reasons, lead=True, newest=newest)
        if self.policy.lead_words:
            self._widen(spans[0], reasons[lead], self.policy.lead_words)
        near = max(self.policy.min_sentence_score, float(scores[lead]) - self.policy.sentence_margin)
        lead_passage = self.refs[lead].passage
        for n in order:
            if len(seeds) >= self.policy.max_sentences:
                break
            if n == lead or any(s[0] == self.refs[n].passage and s[1] <= self.refs[n].index <= s[2] for s in spans):
                continue
            same_passage = self.refs[n].passage == lead_passage
            if not same_passage and scores[n] < near:
                continue
            if np.max(vectors[seeds] @ vectors[n]) >= self.policy.duplicate_cosine:
                continue
            if self._add_span(spans, reasons, n, scores, bonus_reasons):
                seeds.append(n)
        if self.policy.span_words:
            for span in spans[1:]:
                self._widen(span, reasons[span[3]], self.policy.span_words)
        return self._reading_order(spans, reasons, scores)

    def _add_span(self, spans: list[list[int]], reasons: dict[int, list[str]], n: int, scores: np.ndarray,
                  bonus_reasons: list[list[str]], lead: bool = False, newest: bool = False) -> bool:
        context = self._contexts[n]
        ref = self.refs[n]
        total = sum(s[2] - s[1] + 1 for s in spans)
        new = [ref.passage, context.first, context.last, n]
        for span in spans:  # a span touching one already chosen joins it
            if span[0] == ref.passage and new[1] <= span[2] + 1 and span[1] <= new[2] + 1:
                merged_first, merged_last = min(span[1], new[1]), max(span[2], new[2])
                added = (merged_last - merged_first) - (span[2] - span[1])
                if merged_last - merged_first + 1 > MAX_SENTENCES + 1 or total + added > self.policy.max_quoted_sentences:
                    return False
                span[1], span[2] = merged_first, merged_last
                reasons[span[3]].extend(r for r in self._reasons(n, scores, bonus_reasons, context)
                                        if r not in reasons[span[3]])
                return True
        if total + context.last - context.first + 1 > self.policy.max_quoted_sentences:
            return False
        spans.append(new)
        why = [f"{'best' if lead else 'close'} sentence (cosine {float(scores[n]):.2f})"]
        if newest:
            why.append("newest source")
        reasons[n] = why + self._reasons(n, scores, bonus_reasons, context)[1:]
        return True

    def _widen(self, span: list[int], reasons: list[str], budget: int) -> None:
        """A span takes in its neighbours in the passage, one sentence at a time, after then
        before, while the whole stays within `budget` words: a quiz's answer (and a
        reader's context) is usually next to the sentence most like the question. A neighbour
        that may not be quoted (a caption, a claim without its rebuttal, a sentence whose
        antecedent is outside the passage, one set in another place than the question's)
        stops the growth on its side."""
        texts = self._texts[span[0]]
        document = self.passages[span[0]].hit.stored.document
        disputed = disputed_source(document.title, document.kind == Kind.FACT_CHECK)
        words = sum(len(texts[i].split()) for i in range(span[1], span[2] + 1))
        open_sides = {1: True, -1: True}
        grown = False
        while any(open_sides.values()):
            for side in (1, -1):
                if not open_sides[side]:
                    continue
                j = span[2] + 1 if side == 1 else span[1] - 1
                if not 0 <= j < len(texts) or is_caption(texts[j]) or self._elsewhere(texts[j]):
                    open_sides[side] = False
                    continue
                context = quote_context(texts, j, disputed)
                first, last = min(span[1], context.first), max(span[2], context.last)
                added = sum(len(texts[i].split()) for i in range(first, last + 1)) - words
                if context.rebutted or (context.orphan and context.first < span[1]) \
                        or words + added > budget:
                    open_sides[side] = False
                    continue
                span[1], span[2], words, grown = first, last, words + added, True
        if grown and "with its neighbours" not in reasons:
            reasons.append("with its neighbours")

    def _elsewhere(self, text: str) -> bool:
        """The sentence is about another place than the one the question names."""
        return self._setting is not None and self._setting.verdict(text) is False

    @staticmethod
    def _reasons(n: int, scores: np.ndarray, bonus_reasons: list[list[str]], context: Context) -> list[str]:
        return [f"also a close sentence (cosine {float(scores[n]):.2f})", *bonus_reasons[n], *context.reasons]

    def _reading_order(self, spans: list[list[int]], reasons: dict[int, list[str]],
                       scores: np.ndarray) -> list[ChosenSpan]:
        passages: list[int] = []
        for span in spans:
            if span[0] not in passages:
                passages.append(span[0])
        ordered = sorted(spans, key=lambda s: (passages.index(s[0]), s[1]))
        chosen: list[ChosenSpan] = []
        for passage, first, last, seed in ordered:
            previous = chosen[-1] if chosen else None
            best = max(float(scores[n]) for n, ref in enumerate(self.refs)
                       if ref.passage == passage and first <= ref.index <= last)
            if previous is not None and previous.passage == passage and previous.last + 1 >= first:
                chosen[-1] = ChosenSpan(passage, previous.first, max(last, previous.last),
                                        max(previous.score, best),
                                        previous.reasons + tuple(r for r in reasons[seed] if r not in previous.reasons))
            else:
                chosen.append(ChosenSpan(passage, first, last, best, tuple(reasons[seed])))
        return chosen
