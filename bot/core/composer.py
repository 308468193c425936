"""Picks the spans that answer a question, verbatim, from the retrieved passages.

The bot never writes prose of its own: an answer is a few spans copied exactly from passages
that the relevance gate accepted (a fitted model over cosine, sentence, lexical and source
evidence, see `bot.core.relevance`), each followed by the number of its
source. `compose` is a short pipeline:

1. every hit's answer sentences are embedded once (cached vectors); the gate judges each hit
   on its features, its best sentence's cosine among them, and accepts passages;
2. the question is read: its type, the names it asks about (`read_question`);
3. the passages about those names are the candidates (`quote_selection.candidate_passages`),
   sources published by the day asked before any dated after it;
4. the sentence ranker (`bot.core.sentence_ranking`) gives each of their quotable sentences
   its log-odds of holding the answer;
5. `quote_selection.QuoteSelection` picks sentences and grows each into the contiguous span its
   meaning needs (`quote_context`);
6. the spans are numbered into quotes, a gap marked between spans that do not touch.

When no passage is accepted, or none is about what the question names, the answer is empty,
and adapters say plainly that the knowledge base has no answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from bot.core.answer import Answer, Quote, Source
from bot.core.answer_sentences import answer_sentence_spans
from bot.core.explanation import CandidateExplanation, Explanation, QuoteExplanation
from bot.core.question_entities import question_entities, required_entities
from bot.core.question_types import classify, searchable_question
from bot.core.quote_selection import (
    ChosenSpan,
    DocumentText,
    PassageSentences,
    QuoteSelection,
    Reading,
    SelectionPolicy,
    candidate_passages,
    published_by,
)
from bot.core import sentence_model
from bot.core.relevance import GatePolicy, RelevanceGate
from bot.core.sentence_ranking import PassageEvidence, RankedSentence, sentence_scores
from index.embedder import Embedder
from knowledge.errors import StoreError
from knowledge.language import Language, detect_language
from index.recency import mentions_recency
from index.retriever import ScoredPassage


FUTURE_SLACK_DAYS = 1  # a source dated tomorrow may be today's in another time zone


@dataclass(frozen=True)
class AnswerPolicy:
    """Scores are cosine similarities of all-MiniLM-L6-v2; see docs/architecture.md, "Declining to answer", for their calibration."""

    relevance: GatePolicy = GatePolicy()
    min_sentence_score: float = 0.30
    max_sentences: int = 3  # sentences chosen on their own merit
    max_quoted_sentences: int = 6  # with the context they bring (antecedents, speakers, rebuttals)
    candidate_passages: int = 3  # more (8) let weaker passages crowd the answer: realtimeqa "contains" fell 2 points
    sentence_margin: float = 0.15  # extra sentences must be this close to the best one
    duplicate_cosine: float = 0.90
    lead_words: int = 80  # the best sentence's span takes in its neighbours up to this many words
    span_words: int = 40  # every other span up to this many (answer set: contains gold 69.4% -> 71.6%)


class AnswerComposer:
    """Question + scored passages -> `Answer` made only of quoted spans."""

    def __init__(self, embedder: Embedder, policy: AnswerPolicy = AnswerPolicy(),
                 document_text: DocumentText | None = None) -> None:
        """`embedder` embeds sentences of the knowledge base only (never the question), so it
        may be cached (see bot.core.answer_sentences). `document_text` (the store's) lets a
        passage that names no place take its setting from the paragraphs before it; without
        it such a passage is judged by its title alone."""
        self.embedder = embedder
        self.policy = policy
        self.document_text = document_text

    def compose(self, question: str, query: np.ndarray, hits: list[ScoredPassage],
                asked_at: date | None = None) -> Answer:
        """`asked_at` (default today) is the day the passages' ages are measured from."""
        best = hits[0].score if hits else 0.0
        # Every hit's quotable sentences, embedded in one call (the cache holds the knowledge
        # base's sentences): the gate reads each passage's best sentence, and the quotes are
        # then chosen among the accepted passages' sentences with the same vectors.
        searched = searchable_question(question)
        spans = [_sentence_spans(h.stored.passage.text) for h in hits]
        texts = [h.stored.passage.text[a:b] for h, hit_spans in zip(hits, spans) for a, b in hit_spans]
        vectors = self.embedder.embed(texts) if texts else np.zeros((0, len(query)), dtype=np.float32)
        scores = vectors @ query
        gate = RelevanceGate(searched, asked_at, self.policy.relevance)
        judged, first_row, row = [], {}, 0  # first_row: id(hit) -> its first sentence's row
        best_sentence: dict[int, float] = {}  # id(hit) -> its best sentence's cosine
        for hit, hit_spans in zip(hits, spans):
            first_row[id(hit)] = row
            own = scores[row : row + len(hit_spans)]
            row += len(hit_spans)
            if len(own):
                best_sentence[id(hit)] = float(own.max())
            judged.append(gate.judge(hit, best_sentence.get(id(hit), hit.score)))
        language = detect_language(searched)
        unread = language if language not in (None, Language.EN) else None
        if unread is not None:
            judged = [_not_readable(verdict, unread) for verdict in judged]
        # A source dated after the day asked was not there to read on that day (questions replayed
        # on their date, `crisisbot eval`): it only answers when nothing older does.
        known_by = (asked_at or date.today()) + timedelta(days=FUTURE_SLACK_DAYS)
        if any(verdict.accepted for verdict in judged):
            judged = [_beside_accepted(v, self.policy.relevance.quote_floor) for v in judged]
        explanation = Explanation(classify(question).value, searched, candidates=judged,
                                  unread_language=unread.value if unread is not None else "")
        accepted = [(rank, h, verdict) for rank, (h, verdict) in enumerate(zip(hits, judged)) if verdict.accepted]
        if not accepted:
            return Answer(question, best_passage_score=best, explanation=explanation)
        relevant = sorted((h for _, h, _ in accepted), key=lambda h: not published_by(h, known_by))
        reading = replace(read_question(question), known_by=known_by)
        documents = _DocumentTexts(self.document_text) if reading.places and self.document_text else None
        passages = [PassageSentences(hit, _sentence_spans(hit.stored.passage.text))  # cached: the spans above
                    for hit in candidate_passages(relevant, reading, self.policy.candidate_passages, documents)]
        selection = QuoteSelection(reading, passages, self._selection_policy(), documents)
        if not selection.refs:
            return Answer(question, best_passage_score=best, explanation=explanation)
        # The candidates are hits and their sentences the spans embedded above: reuse the rows.
        rows = [first_row[id(passages[ref.passage].hit)] + ref.index for ref in selection.refs]
        # Ranked by how likely each is to hold the answer, against the best of every accepted
        # passage (`bot.core.sentence_ranking`).
        evidence = {id(h): PassageEvidence(v.probability, h.score, rank, h.term_idf) for rank, h, v in accepted}
        sentences = [RankedSentence(selection.text(ref), float(scores[row]), ref.index,
                                    evidence[id(passages[ref.passage].hit)])
                     for ref, row in zip(selection.refs, rows)]
        best_cosine = max(best_sentence.get(id(h), -1.0) for _, h, _ in accepted)
        odds = self.rank_sentences(searched, sentences, best_cosine, max(v.probability for _, _, v in accepted))
        chosen = selection.choose(scores[rows], vectors[rows], odds)
        return self._number(question, chosen, passages, best, explanation)

    def rank_sentences(self, question: str, sentences: list[RankedSentence], best_cosine: float,
                       best_probability: float) -> np.ndarray:
        """The candidates' quotable sentences' log-odds of holding the answer (a method, so that
        benchmarks/quality/fit_sentences.py can read the features it is fitted on)."""
        return sentence_scores(question, sentences, best_cosine, best_probability)

    def _selection_policy(self) -> SelectionPolicy:
        p = self.policy
        return SelectionPolicy(min_sentence_score=p.min_sentence_score, max_sentences=p.max_sentences,
                               max_quoted_sentences=p.max_quoted_sentences,
                               sentence_margin=p.sentence_margin, duplicate_cosine=p.duplicate_cosine,
                               lead_words=p.lead_words, span_words=p.span_words,
                               bonus_scale=sentence_model.BONUS_SCALE)

    @staticmethod
    def _number(question: str, chosen: list[ChosenSpan], passages: list[PassageSentences], best: float,
                explanation: Explanation) -> Answer:
        """Sources numbered in order of first quote; each span becomes one `Quote`, marked as
        following a gap when it does not continue the quote before it."""
        numbers: dict[str, int] = {}
        sources: list[Source] = []
        quotes: list[Quote] = []
        reasons: list[QuoteExplanation] = []
        for span in chosen:
            hit = passages[span.passage].hit
            passage, document = hit.stored.passage, hit.stored.document
            if document.id not in numbers:
                numbers[document.id] = len(sources) + 1
                sources.append(Source(numbers[document.id], document, hit.score))
            first = passages[span.passage].spans[span.first][0]
            last = passages[span.passage].spans[span.last][1]
            quotes.append(Quote(passage.text[first:last], numbers[document.id], passage.id or 0,
                                passage.start + first, passage.start + last, span.score,
                                gap_before=bool(quotes)))
            reasons.append(QuoteExplanation(len(quotes) - 1, list(span.reasons)))
        return Answer(question, quotes, sources, best, explanation=replace(explanation, quotes=reasons))


def _not_readable(verdict: CandidateExplanation, language: Language) -> CandidateExplanation:
    """Declined: the gate's cosines come from all-MiniLM-L6-v2, which reads English only.

    A Cyrillic question is to it a run of unknown word pieces whose vector lies close to a great
    many passages: on the 1,796 official statements (all English) the gate passed four in five
    Ukrainian off-topic questions (cooking, football; benchmarks/results/crosslingual.md). Until the gate is calibrated on the
    multilingual model's evidence, a question in another language is declined plainly, in its
    own language, rather than answered with quotes the bot cannot judge."""
    return replace(verdict, accepted=False,
                   reason=f"question in {language.value}: the gate reads English questions only (for now)")


def _beside_accepted(verdict: CandidateExplanation, floor: float) -> CandidateExplanation:
    """A passage below the gate's threshold that may still be quoted, the question being
    answered by another (`GatePolicy.quote_floor`)."""
    if verdict.accepted or verdict.probability < floor:
        return verdict
    return replace(verdict, accepted=True,
                   reason=f"{verdict.reason}, but >= {floor:.2f} beside an accepted passage")


class _DocumentTexts:
    """Documents' texts read once per answer; a document removed meanwhile reads as ""."""

    def __init__(self, read: DocumentText) -> None:
        self._read = read
        self._texts: dict[str, str] = {}

    def __call__(self, document_id: str) -> str:
        if document_id not in self._texts:
            try:
                self._texts[document_id] = self._read(document_id)
            except StoreError:
                self._texts[document_id] = ""
        return self._texts[document_id]


@lru_cache(maxsize=4096)
def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """The quotable sentences of a passage: the same passages answer many questions."""
    return answer_sentence_spans(text)


def read_question(question: str) -> Reading:
    """The question's type, the names its answer must be about, and whether it asks for news."""
    searched = searchable_question(question)
    return Reading(classify(question), required_entities(question_entities(searched)),
                   newest_first=mentions_recency(question))
