"""Picks the sentences that answer a question, verbatim, from the retrieved passages.

The bot never writes prose of its own: an answer is a handful of sentences copied exactly from
passages that the relevance gate accepted (a fitted model over cosine, sentence, lexical and
source evidence, see `bot.core.relevance`), each followed by the number of its source. When no passage is accepted
the answer is empty, and adapters say plainly that the knowledge base has no answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from bot.core.answer import Answer, Quote, Source
from bot.core.answer_sentences import answer_sentence_spans
from bot.core.explanation import Explanation
from bot.core.relevance import GatePolicy, RelevanceGate
from index.embedder import Embedder
from index.recency import mentions_recency
from index.retriever import ScoredPassage


@dataclass(frozen=True)
class AnswerPolicy:
    """Scores are cosine similarities of all-MiniLM-L6-v2; see docs/architecture.md, "Declining to answer", for their calibration."""

    relevance: GatePolicy = GatePolicy()
    min_sentence_score: float = 0.30
    max_sentences: int = 3
    candidate_passages: int = 3
    sentence_margin: float = 0.15  # extra sentences must be this close to the best one
    duplicate_cosine: float = 0.90


@dataclass(frozen=True)
class _Candidate:
    hit: ScoredPassage
    start: int  # offsets in the document
    end: int
    text: str


class AnswerComposer:
    """Question + scored passages -> `Answer` made only of quoted sentences."""

    def __init__(self, embedder: Embedder, policy: AnswerPolicy = AnswerPolicy()) -> None:
        """`embedder` embeds sentences of the knowledge base only (never the question), so it
        may be cached (see bot.core.answer_sentences)."""
        self.embedder = embedder
        self.policy = policy

    def compose(self, question: str, query: np.ndarray, hits: list[ScoredPassage],
                asked_at: date | None = None) -> Answer:
        """`asked_at` (default today) is the day the passages' ages are measured from."""
        best = hits[0].score if hits else 0.0
        # Every hit's answer sentences, embedded in one call (the cache holds the knowledge
        # base's sentences): the gate reads each passage's best sentence, and the quotes are
        # then chosen among the accepted passages' sentences with the same vectors.
        all_candidates = self._sentences(hits)
        if all_candidates:
            all_vectors = self.embedder.embed([c.text for c in all_candidates])
        else:
            all_vectors = np.zeros((0, len(query)), dtype=np.float32)
        all_scores = all_vectors @ query
        best_sentence: dict[int, float] = {}  # id(hit) -> its best sentence's cosine
        for candidate, score in zip(all_candidates, all_scores.tolist()):
            key = id(candidate.hit)
            best_sentence[key] = max(score, best_sentence.get(key, -1.0))
        gate = RelevanceGate(question, asked_at, self.policy.relevance)
        judged = [gate.judge(h, best_sentence.get(id(h), h.score)) for h in hits]
        explanation = Explanation(candidates=judged)
        relevant = [h for h, verdict in zip(hits, judged) if verdict.accepted]
        if not relevant:
            return Answer(question, best_passage_score=best, explanation=explanation)
        kept = {id(h) for h in relevant[: self.policy.candidate_passages]}
        rows = [i for i, c in enumerate(all_candidates) if id(c.hit) in kept]
        candidates = [all_candidates[i] for i in rows]
        vectors = all_vectors[rows]
        sentence_scores = all_scores[rows]
        # "What is the latest ...?": the retriever ranked the newest matching report first; the
        # answer must lead with it even when an older report's wording is closer.
        lead = relevant[0].stored.passage.id if mentions_recency(question) else None
        chosen = self._choose(candidates, vectors, sentence_scores, lead)
        answer = self._number(question, chosen, sentence_scores, candidates, best)
        return replace(answer, explanation=replace(answer.explanation, candidates=judged))

    @staticmethod
    def _sentences(hits: list[ScoredPassage]) -> list[_Candidate]:
        candidates = []
        for hit in hits:
            passage = hit.stored.passage
            for first, last in answer_sentence_spans(passage.text):
                start = passage.start + first
                candidates.append(_Candidate(hit, start, passage.start + last, passage.text[first:last]))
        return candidates

    def _choose(
        self,
        candidates: list[_Candidate],
        vectors: np.ndarray,
        scores: np.ndarray,
        lead: int | None = None,
    ) -> list[int]:
        """Best sentence first (its passage already passed the relevance gate), then close ones.

        Sentences of the best sentence's own passage are its context and need only the floor;
        sentences from elsewhere must also be within a margin of the best. Chosen sentences of
        one passage are returned in reading order, so the answer reads as the source does. With
        `lead` (a passage id), the best sentence is taken from that passage.
        """
        if not candidates:
            return []
        # Rank by the sentence's own similarity, lifted a little by its passage's.
        combined = 0.7 * scores + 0.3 * np.array([c.hit.score for c in candidates])
        order = np.argsort(-combined, kind="stable")
        if lead is not None:
            led = [int(i) for i in order if candidates[i].hit.stored.passage.id == lead]
            order = np.array(led + [int(i) for i in order if int(i) not in led])
        best = int(order[0])
        chosen = [best]
        best_passage = candidates[best].hit.stored.passage.id
        near = max(self.policy.min_sentence_score, float(scores[best]) - self.policy.sentence_margin)
        for index in order[1:]:
            if len(chosen) >= self.policy.max_sentences:
                break
            same_passage = candidates[index].hit.stored.passage.id == best_passage
            if scores[index] < (self.policy.min_sentence_score if same_passage else near):
                continue
            if np.max(vectors[chosen] @ vectors[index]) >= self.policy.duplicate_cosine:
                continue
            chosen.append(int(index))
        return self._reading_order(chosen, candidates)

    @staticmethod
    def _reading_order(chosen: list[int], candidates: list[_Candidate]) -> list[int]:
        """Passages in the order they were first chosen; sentences of each in text order."""
        passages: list[int | None] = []
        for index in chosen:
            passage_id = candidates[index].hit.stored.passage.id
            if passage_id not in passages:
                passages.append(passage_id)
        return sorted(
            chosen,
            key=lambda i: (passages.index(candidates[i].hit.stored.passage.id), candidates[i].start),
        )

    @staticmethod
    def _number(
        question: str,
        chosen: list[int],
        scores: np.ndarray,
        candidates: list[_Candidate],
        best: float,
    ) -> Answer:
        numbers: dict[str, int] = {}
        sources: list[Source] = []
        quotes: list[Quote] = []
        for index in chosen:
            candidate = candidates[index]
            document = candidate.hit.stored.document
            if document.id not in numbers:
                numbers[document.id] = len(sources) + 1
                sources.append(Source(numbers[document.id], document, candidate.hit.score))
            quotes.append(
                Quote(candidate.text, numbers[document.id], candidate.hit.stored.passage.id or 0,
                      candidate.start, candidate.end, float(scores[index]))
            )
        return Answer(question, quotes, sources, best)
