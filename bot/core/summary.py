"""Summaries ("what we know about X") and digests ("what's new this week"), only in quotes.

Like an answer, a summary is made of sentences copied exactly from stored passages, each cited;
the bot adds no prose of its own beyond a heading. What differs is the choice of sentences: an
answer wants the few closest to a question, a summary wants the most distinct points, so
sentences are picked by maximal marginal relevance (relevance to the topic, or centrality when
there is none, minus similarity to what is already picked), near-duplicates (cosine >= 0.9)
never both appear, and a publisher already quoted costs a little, so several outlets are heard
before one is heard twice. The picked sentences are then put in the order of their sources'
dates, because a summary of a war reads as a timeline.

A digest groups the documents added since the last one into topics (clusters of their
document vectors), and quotes one or two central sentences for each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.core.answer import Answer, Quote, Source
from bot.core.answer_sentences import answer_sentence_spans
from bot.core.relevance import GatePolicy, RelevanceGate
from index.embedder import Embedder
from index.recency import published_date
from index.retriever import Retriever, ScoredPassage
from knowledge.documents import DocumentInfo, StoredPassage
from knowledge.sentences import split_sentences
from knowledge.store_interface import KnowledgeStore

UNDATED_LAST = "9999"
SHARED_RUN_WORDS = 8
"""Two sentences sharing a run of this many words repeat one report (daily briefings copy
yesterday's paragraph and add a clause), even when their cosine stays below 0.9."""

# A sentence opening with one of these leans on the one before it ("But they said…"); quoted
# alone in a summary it would misstate or say nothing, so it is not picked.
_DANGLING = re.compile(
    r"^[“\"‘']?(but|and|or|so|yet|it|its|they|their|them|he|his|him|she|her|this|that|these|those|"
    r"then|also|still|instead|such|there)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SummaryPolicy:
    """Defaults measured on `../shared/corpus` (docs/chat.md, "Moderators: summaries and digests")."""

    candidate_passages: int = 40  # passages whose sentences compete
    relevance_weight: float = 0.7  # MMR's lambda: relevance against novelty
    publisher_penalty: float = 0.08  # per sentence already quoted from the same publisher
    duplicate_cosine: float = 0.90  # a sentence this close to a picked one is never picked
    min_sentence_words: int = 6
    max_sentence_words: int = 70
    min_topic_score: float = 0.30  # a topic summary's sentences are at least this close to it
    max_range_passages: int = 20_000  # passages of a date range scored for a summary
    topic_similarity: float = 0.30  # digest: a document joins a topic this close to its centre (centred vectors)
    digest_passages_per_topic: int = 12


@dataclass(frozen=True)
class Summary:
    """Quoted sentences in date order with numbered sources; `found` False when nothing in
    the knowledge base (or the date range) is about the topic."""

    topic: str | None
    since: str | None
    until: str | None
    answer: Answer

    @property
    def found(self) -> bool:
        return self.answer.found

    @property
    def span(self) -> tuple[str | None, str | None]:
        """The first and last publication dates of the cited sources (undated ones aside)."""
        dates = sorted(s.document.published for s in self.answer.sources if s.document.published)
        return (dates[0], dates[-1]) if dates else (None, None)

    @property
    def heading(self) -> str:
        """'What the knowledge base says about “north korean troops”, 2024-11-01 to 2024-11-20'."""
        what = f"about “{self.topic}”" if self.topic else "overall"
        first, last = self.span
        if first is None:
            covered = ""
        elif first == last:
            covered = f", {first}"
        else:
            covered = f", {first} to {last}"
        return f"What the knowledge base says {what}{covered}"


@dataclass(frozen=True)
class DigestTopic:
    label: str  # the title of the topic's most central document
    answer: Answer
    document_ids: list[str]


@dataclass(frozen=True)
class Digest:
    """Documents added within [since, until) (UTC, ISO 8601), grouped into topics."""

    since: str
    until: str
    topics: list[DigestTopic] = field(default_factory=list)
    documents: int = 0
    more_topics: int = 0  # smaller topics left out of the digest

    @property
    def empty(self) -> bool:
        return not self.topics


@dataclass(frozen=True)
class _Sentence:
    stored: StoredPassage
    start: int  # offsets in the document
    end: int
    text: str
    passage_score: float


class Summarizer:
    """Builds `Summary` and `Digest` values from the store, the retriever and the model."""

    def __init__(
        self, store: KnowledgeStore, retriever: Retriever, embedder: Embedder,
        relevance: GatePolicy = GatePolicy(), policy: SummaryPolicy = SummaryPolicy(),
    ) -> None:
        self.store = store
        self.retriever = retriever
        self.embedder = embedder
        self.relevance = relevance
        self.policy = policy

    # -- summaries ------------------------------------------------------------------------------

    def summarize(
        self, topic: str | None, since: str | None, until: str | None, max_sentences: int,
    ) -> Summary:
        """`since`/`until` are (possibly partial) publication dates, already validated."""
        query: np.ndarray | None = None
        if topic:
            query = self.retriever.embed_query(topic)  # once: it ranks passages, then sentences
            passages = self._topic_passages(topic, query, since, until)
        else:
            passages = self._central_passages(since, until)
        if not passages:
            return Summary(topic, since, until, Answer(topic or ""))
        sentences = self._sentences(passages)
        if not sentences:
            return Summary(topic, since, until, Answer(topic or ""))
        vectors = self.embedder.embed([s.text for s in sentences])
        if query is not None:
            relevance = vectors @ query
            eligible = relevance >= self.policy.min_topic_score
        else:
            relevance = _centrality(vectors)
            eligible = np.ones(len(sentences), dtype=bool)
        chosen = self._pick(sentences, vectors, relevance, eligible, max_sentences)
        return Summary(topic, since, until, _answer(topic or "", sentences, chosen, relevance))

    def _topic_passages(
        self, topic: str, query: np.ndarray, since: str | None, until: str | None,
    ) -> list[tuple[StoredPassage, float]]:
        """The passages the relevance gate accepts for the topic, best first.

        Without dates, the retriever's hybrid search; with dates, every passage published in
        the range is scored, so an old topic is not crowded out of the candidates by newer
        reports that the range would then drop."""
        k = self.policy.candidate_passages
        if since or until:
            ids = self.store.passage_ids_where(since, until)[-self.policy.max_range_passages:]
            hits = [ScoredPassage(p, s) for p, s in self._score_ids(ids, query, k)]
        else:
            hits = self.retriever.search_vector(query, k, topic)
        # The topic is judged as a question would be, on the day the range ends.
        gate = RelevanceGate(topic, published_date(until), self.relevance)
        best = self._best_sentence_scores(hits, query)
        return [(h.stored, h.score) for h, b in zip(hits, best) if gate.judge(h, b).accepted]

    def _best_sentence_scores(self, hits: list[ScoredPassage], query: np.ndarray) -> list[float]:
        """Each passage's best answer-sentence cosine with the topic (its own without one)."""
        spans = [answer_sentence_spans(h.stored.passage.text) for h in hits]
        texts = [h.stored.passage.text[a:b] for h, found in zip(hits, spans) for a, b in found]
        scores = (self.embedder.embed(texts) @ query).tolist() if texts else []
        best, at = [], 0
        for hit, found in zip(hits, spans):
            best.append(max(scores[at : at + len(found)], default=hit.score))
            at += len(found)
        return best

    def _score_ids(self, ids: Sequence[int], query: np.ndarray, k: int) -> list[tuple[StoredPassage, float]]:
        if not ids:
            return []
        found, vectors = self.store.existing_vectors(ids, self.retriever.index.dimension)
        if len(found) == 0:
            return []
        scores = vectors @ query
        top = np.argsort(-scores, kind="stable")[:k]
        stored = self.store.stored_passages([int(found[i]) for i in top])
        return [(stored[int(found[i])], float(scores[i])) for i in top if int(found[i]) in stored]

    def _central_passages(self, since: str | None, until: str | None) -> list[tuple[StoredPassage, float]]:
        """Without a topic: passages spread over what the range holds, central ones first.

        Passage-level MMR around the range's centroid, so the sentence step sees the main
        threads of the period rather than forty passages of its single biggest story."""
        ids = self.store.passage_ids_where(since, until)[-self.policy.max_range_passages:]
        if not ids:
            return []
        found, vectors = self.store.existing_vectors(ids, self.retriever.index.dimension)
        if len(found) == 0:
            return []
        centrality = _centrality(vectors)
        picked = _mmr(vectors, centrality, np.ones(len(found), dtype=bool), self.policy.candidate_passages,
                      0.5, duplicate=1.01)
        stored = self.store.stored_passages([int(found[i]) for i in picked])
        return [(stored[int(found[i])], float(centrality[i])) for i in picked if int(found[i]) in stored]

    def _sentences(self, passages: list[tuple[StoredPassage, float]]) -> list[_Sentence]:
        sentences = []
        for stored, score in passages:
            passage = stored.passage
            for span in split_sentences(passage.text):
                text = passage.text[span.start : span.end]
                words = len(text.split())
                if self.policy.min_sentence_words <= words <= self.policy.max_sentence_words and standalone(text):
                    start = passage.start + span.start
                    sentences.append(_Sentence(stored, start, start + len(text), text, score))
        return sentences

    def _pick(
        self, sentences: list[_Sentence], vectors: np.ndarray, relevance: np.ndarray,
        eligible: np.ndarray, limit: int,
    ) -> list[int]:
        """Greedy MMR with a publisher penalty; never two sentences at cosine >= 0.9, nor two
        sharing a run of 8 words (the same sentence in two copies of one report included)."""
        keys = [_publisher_key(s.stored.document) for s in sentences]
        chosen: list[int] = []
        quoted: dict[str, int] = {}
        runs: set[tuple[str, ...]] = set()
        weight = self.policy.relevance_weight
        available = eligible.copy()
        while len(chosen) < limit and available.any():
            redundancy = (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(sentences))
            penalty = np.array([quoted.get(key, 0) for key in keys]) * self.policy.publisher_penalty
            gain = weight * relevance - (1 - weight) * redundancy - penalty
            gain[~available] = -np.inf
            best = int(np.argmax(gain))
            available[best] = False
            if chosen and redundancy[best] >= self.policy.duplicate_cosine:
                continue
            sentence_runs = _runs(sentences[best].text)
            if sentence_runs & runs:  # the same report in other words around a copied run
                continue
            chosen.append(best)
            runs |= sentence_runs
            quoted[keys[best]] = quoted.get(keys[best], 0) + 1
        return chosen

    # -- digests --------------------------------------------------------------------------------

    def _knowledge_mean(self, sample: int = 20_000) -> np.ndarray:
        """The mean passage vector of the knowledge base (of an even sample of a big one)."""
        ids = self.store.passage_ids()
        if len(ids) > sample:
            ids = ids[np.linspace(0, len(ids) - 1, sample).astype(np.int64)]
        _, vectors = self.store.existing_vectors([int(i) for i in ids], self.retriever.index.dimension)
        return vectors.mean(axis=0) if len(vectors) else np.zeros(self.retriever.index.dimension, np.float32)

    def digest(self, since: str, until: str, max_topics: int, sentences_per_topic: int) -> Digest:
        """The documents added in [since, until), grouped into at most `max_topics` topics."""
        stored = self.store.stored_passages(self.store.passage_ids_where(added_since=since, added_before=until))
        if not stored:
            return Digest(since, until)
        ids = sorted(stored)
        found, vectors = self.store.existing_vectors(ids, self.retriever.index.dimension)
        by_document: dict[str, list[int]] = {}
        for row, passage_id in enumerate(found):
            by_document.setdefault(stored[int(passage_id)].document.id, []).append(row)
        documents = list(by_document)
        centres = np.stack([_normalise(vectors[by_document[d]].mean(axis=0)) for d in documents])
        order = np.argsort(-_centrality(centres), kind="stable")  # typical documents seed topics
        clusters = _leader_clusters(_centred(centres, self._knowledge_mean()), order, self.policy.topic_similarity)
        topics = []
        for members in clusters[:max_topics]:
            centre = _normalise(centres[members].mean(axis=0))
            rows = [r for m in members for r in by_document[documents[m]]]
            rows = sorted(rows, key=lambda r: -float(vectors[r] @ centre))[: self.policy.digest_passages_per_topic]
            passages = [(stored[int(found[r])], float(vectors[r] @ centre)) for r in rows]
            sentences = self._sentences(passages)
            if not sentences:
                continue
            sentence_vectors = self.embedder.embed([s.text for s in sentences])
            relevance = sentence_vectors @ centre
            chosen = self._pick(sentences, sentence_vectors, relevance,
                                np.ones(len(sentences), dtype=bool), sentences_per_topic)
            label_row = max(members, key=lambda m: float(centres[m] @ centre))
            label = stored[int(found[by_document[documents[label_row]][0]])].document.title
            topics.append(DigestTopic(label, _answer(label, sentences, chosen, relevance),
                                      [documents[m] for m in members]))
        return Digest(since, until, topics, len(documents), max(0, len(clusters) - max_topics))


def _answer(title: str, sentences: list[_Sentence], chosen: list[int], relevance: np.ndarray) -> Answer:
    """The picked sentences in source-date order (then document and place), numbered."""
    ordered = sorted(chosen, key=lambda i: (sentences[i].stored.document.published or UNDATED_LAST,
                                            sentences[i].stored.document.id, sentences[i].start))
    numbers: dict[str, int] = {}
    sources: list[Source] = []
    quotes: list[Quote] = []
    for index in ordered:
        sentence = sentences[index]
        document = sentence.stored.document
        if document.id not in numbers:
            numbers[document.id] = len(sources) + 1
            sources.append(Source(numbers[document.id], document, sentence.passage_score))
        quotes.append(Quote(sentence.text, numbers[document.id], sentence.stored.passage.id or 0,
                            sentence.start, sentence.end, float(relevance[index])))
    best = max((s.passage_score for s in sentences), default=0.0)
    return Answer(title, quotes, sources, best)


def standalone(text: str) -> bool:
    """Whether a sentence can be quoted on its own without misleading.

    Not one that leans on the sentence before it ("But they said…"), and not a piece of a longer
    quotation (an opening quote mark never closed, or a closing one never opened): alone, its
    words would lose their speaker and read as the publisher's own claim."""
    if _DANGLING.match(text):
        return False
    opened, closed = text.count("“"), text.count("”")
    return opened == closed and text.count('"') % 2 == 0


def _runs(text: str) -> set[tuple[str, ...]]:
    """The sentence's runs of `SHARED_RUN_WORDS` words; a shorter sentence is one run."""
    words = tuple(w.lower() for w in _WORD.findall(text))
    if len(words) <= SHARED_RUN_WORDS:
        return {words}
    return {words[i : i + SHARED_RUN_WORDS] for i in range(len(words) - SHARED_RUN_WORDS + 1)}


def _publisher_key(document: DocumentInfo) -> str:
    """Documents without a publisher count as their own voice."""
    return (document.publisher or f"document:{document.id}").strip().lower()


def _normalise(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _centrality(vectors: np.ndarray) -> np.ndarray:
    """Cosine of each vector with the normalised mean: how typical it is of the set."""
    return vectors @ _normalise(vectors.mean(axis=0))


def _centred(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Vectors minus the knowledge base's mean, normalised: what sets each document apart.

    Everything in a war's knowledge base is about the war, so raw document vectors all lean
    the same way and cluster into one "the war" topic. Taking the shared direction out lets
    gas supplies, a siege or a prisoner exchange stand apart (measured when digests were built; `make bench-summaries` times them).
    A vector that is the mean itself is kept as it was."""
    centred = vectors - mean
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.where(norms > 1e-6, centred / np.maximum(norms, 1e-6), vectors)


def _mmr(vectors: np.ndarray, relevance: np.ndarray, eligible: np.ndarray, limit: int, weight: float,
         duplicate: float) -> list[int]:
    chosen: list[int] = []
    available = eligible.copy()
    redundancy = np.full(len(vectors), -1.0, dtype=np.float32)
    while len(chosen) < limit and available.any():
        gain = weight * relevance - (1 - weight) * np.maximum(redundancy, 0)
        gain[~available] = -np.inf
        best = int(np.argmax(gain))
        available[best] = False
        if redundancy[best] >= duplicate:
            continue
        chosen.append(best)
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return chosen


def _leader_clusters(vectors: np.ndarray, order: np.ndarray, similarity: float) -> list[list[int]]:
    """Rows grouped around running centres, biggest group first.

    Rows are taken in `order` (most typical first, so each topic is seeded by a central
    document); a row joins the closest centre within `similarity`, else starts a topic."""
    members: list[list[int]] = []
    centres: list[np.ndarray] = []
    for row in order:
        if centres:
            scores = np.stack(centres) @ vectors[row]
            best = int(np.argmax(scores))
            if scores[best] >= similarity:
                members[best].append(int(row))
                centres[best] = _normalise(vectors[members[best]].mean(axis=0))
                continue
        members.append([int(row)])
        centres.append(vectors[row])
    return sorted(members, key=lambda m: (-len(m), m[0]))
