"""`crisisbot eval`: how well the bot's own retrieval ranks documents on a BEIR benchmark.

The corpus is ingested through `CrisisBot.ingest` and queried through `bot.retriever`, the very
code that answers people, so a number measured here is a number about the bot (passage
splitting, model and index included), not about a separate experiment. The metric functions
are pure so that they can be checked against hand-computed values.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.answer import Answer
from index.embedder import Embedder
from index.recency import published_date
from knowledge.documents import Document, Kind, parse_published
from knowledge.errors import CrisisbotError
from knowledge.text import normalise_text, title_from_text

Qrels = Mapping[str, int]  # document id -> grade (> 0 relevant)
ProgressBar = Callable[[str], tuple[Callable[[int, int], None], Callable[[], None]]]
ADDED_BY = "eval"

def ndcg_at(ranking: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    """nDCG@k with gain 2^rel - 1 and log2 discount; the ideal ranking comes from the grades."""
    dcg = sum((2 ** qrels.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal_grades = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    ideal = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal_grades))
    return dcg / ideal if ideal > 0 else 0.0


def recall_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """The share of the query's relevant documents found in the top k."""
    relevant = {d for d, g in qrels.items() if g > 0}
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranking: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    """1 / rank of the first relevant document in the top k, 0 when none is there."""
    for i, d in enumerate(ranking[:k]):
        if qrels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def query_metrics(ranking: Sequence[str], qrels: Qrels, k: int) -> dict[str, float]:
    return {"nDCG@10": ndcg_at(ranking, qrels, 10), "Recall@10": recall_at(ranking, qrels, 10),
            f"Recall@{k}": recall_at(ranking, qrels, k), "MRR@10": mrr_at(ranking, qrels, 10)}


def mean_metrics(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each metric averaged over the rows that have it (not every query has quiz answers)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: round(sum(vals) / len(vals), 4)
            for name in names if (vals := [row[name] for row in rows if name in row])}

@dataclass
class Query:
    id: str
    text: str
    topic: str | None = None
    asked_at: date | None = None  # metadata.date: when the question was asked (a quiz's week)
    answers: list[str] = field(default_factory=list)  # metadata.answers: the correct answers
    language: str | None = None  # metadata.language: the same questions asked in several languages


@dataclass
class Dataset:
    name: str
    documents: list[Document]
    queries: list[Query]  # those with at least one relevant document
    qrels: dict[str, dict[str, int]]


def _required(path: Path) -> Path:
    if not path.is_file():
        raise CrisisbotError(f"{path}: no such file (a BEIR folder holds corpus.jsonl, "
                             "queries.jsonl and qrels/test.tsv)")
    return path


def _jsonl(path: Path, required: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file; a bad line stops everything with its file:line."""
    with _required(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CrisisbotError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if missing := [key for key in required if not isinstance(record, dict) or key not in record]:
                raise CrisisbotError(f"{path}:{number}: missing {', '.join(missing)}")
            yield record


def _meta(record: Mapping[str, Any]) -> dict[str, Any]:
    meta = record.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _published(meta: Mapping[str, Any]) -> str | None:
    """The metadata date when it parses (BEIR sets often write 2022/01/07); else no date."""
    try:
        return parse_published(str(meta["date"]).replace("/", "-")) if meta.get("date") else None
    except CrisisbotError:
        return None


def _document(record: dict[str, Any]) -> Document | None:
    text = normalise_text(str(record.get("text") or ""))
    if not text:
        return None  # nothing to embed; its qrels simply count as not found
    meta = _meta(record)
    title = " ".join(str(record.get("title") or "").split())
    return Document(id=str(record["_id"]), title=title or title_from_text(text), text=text,
                    publisher=meta.get("source"), kind=Kind.NEWS, published=_published(meta),
                    added_by=ADDED_BY)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id -> {document id: grade}; the first line is the header."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with _required(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if number == 1 or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                query_id, doc_id, score = fields[0], fields[1], int(fields[2])
            except (IndexError, ValueError):
                raise CrisisbotError(f"{path}:{number}: expected query-id, corpus-id, integer "
                                     "score separated by tabs") from None
            qrels[query_id][doc_id] = score
    return dict(qrels)


def load_dataset(folder: Path) -> Dataset:
    """Read and cross-check the whole folder before anything is ingested."""
    if not folder.is_dir():
        raise CrisisbotError(f"{folder}: no such folder")
    corpus_ids: set[str] = set()
    documents = []
    for record in _jsonl(folder / "corpus.jsonl", ["_id", "text"]):
        corpus_ids.add(str(record["_id"]))
        if (document := _document(record)) is not None:
            documents.append(document)
    queries = []
    for record in _jsonl(folder / "queries.jsonl", ["_id", "text"]):
        meta = _meta(record)
        topic = meta.get("topic")
        asked = _published(meta)
        answers = meta.get("answers")
        language = meta.get("language")
        queries.append(Query(str(record["_id"]), str(record["text"]), str(topic) if topic else None,
                             published_date(asked),
                             [str(a) for a in answers] if isinstance(answers, list) else [],
                             str(language) if language else None))
    qrels = read_qrels(folder / "qrels" / "test.tsv")
    query_ids = {q.id for q in queries}
    for query_id, judged in qrels.items():
        if query_id not in query_ids:
            raise CrisisbotError(f"qrels/test.tsv names query {query_id!r}, not in queries.jsonl")
        if unknown := sorted(set(judged) - corpus_ids):
            raise CrisisbotError(f"qrels/test.tsv names document {unknown[0]!r} (query "
                                 f"{query_id!r}), not in corpus.jsonl")
    judged_queries = [q for q in queries if any(g > 0 for g in qrels.get(q.id, {}).values())]
    return Dataset(folder.resolve().name, documents, judged_queries, qrels)

def rank_documents(hits: Sequence[tuple[str, float]], aliases: Mapping[str, list[str]], k: int) -> list[str]:
    """Documents in order of their best passage's score, at most k.

    `aliases` maps a stored id to the other corpus ids with the same text: the store keeps one
    copy of a text, and a hit on it is a hit on each of them.
    """
    best: dict[str, float] = {}
    for doc_id, score in hits:
        for corpus_id in (doc_id, *aliases.get(doc_id, ())):
            best[corpus_id] = max(score, best.get(corpus_id, -math.inf))
    return sorted(best, key=lambda d: -best[d])[:k]


def _embed_in_batches(embedder: Embedder, texts: list[str],
                      update: Callable[[int, int], None], size: int = 256) -> np.ndarray:
    """Queries embedded in batches: several times faster than one at a time."""
    parts = []
    for first in range(0, len(texts), size):
        parts.append(embedder.embed(texts[first : first + size]))
        update(min(first + size, len(texts)), len(texts))
    return np.vstack(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def _folded(text: str) -> str:
    """Lower case, curly quotes and dashes straightened, white space collapsed."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("–", "-").replace("—", "-")
    return " ".join(text.split())


def answer_metrics(answer: Answer, query: Query, qrels: Qrels,
                   aliases: Mapping[str, list[str]]) -> dict[str, float]:
    """Did the bot answer; do its cited sources include a relevant document; does its quoted
    text contain one of the quiz's correct answers (when the query carries them)?"""
    cited = {alias for source in answer.sources
             for alias in (source.document.id, *aliases.get(source.document.id, ()))}
    quoted = _folded(" ".join(quote.text for quote in answer.quotes))
    metrics = {"answered": float(answer.found),
               "cites relevant": float(any(qrels.get(d, 0) > 0 for d in cited))}
    if query.answers:
        metrics["contains answer"] = float(any(_folded(a) in quoted for a in query.answers if a.strip()))
    return metrics


def _silent(description: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    return (lambda done, total: None), (lambda: None)


@contextmanager
def _closing(close: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        close()


def evaluate(folder: Path, k: int = 100, limit: int | None = None, keep: Path | None = None,
             bar: ProgressBar = _silent, dated: bool = True,
             embedding_cache: Path | None = None, answers: bool = False,
             database_url: str | None = None) -> dict[str, Any]:
    """Ingest the corpus into a throwaway (or --keep) knowledge base and score every query.

    With `dated`, a query that carries `metadata.date` is asked on that date: "this week" in a
    2022 quiz means that week, as it did for the people who took it, not the day of the run.
    With `answers`, every query is also asked through `CrisisBot.ask` and the answers are
    scored (see `answer_metrics`). With `database_url` (an empty PostgreSQL database) the
    knowledge base is built there, to measure the shared backend's retrieval.
    """
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    if k < 10:
        raise CrisisbotError("--k must be at least 10 (nDCG@10 and MRR@10 need ten documents)")
    dataset = load_dataset(folder)
    queries = dataset.queries[:limit] if limit is not None else dataset.queries
    with ExitStack() as stack:  # closes the bot before its temporary folder goes
        data_dir = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crisisbot-eval-")))
        # The cache of the user's own data folder: a second run embeds nothing again. Embedded
        # unless a database is passed explicitly (`python -m benchmarks.quality.backends`): an evaluation's
        # throwaway knowledge base must never land in the database CRISISBOT_DATABASE_URL names.
        bot = CrisisBot(load_settings(data_dir=data_dir, load_builtin_knowledge=False, database_url=database_url),
                        embedding_cache_path=embedding_cache)
        stack.callback(bot.close)
        if database_url is not None and bot.store.document_count() > 0:
            raise CrisisbotError("the PostgreSQL database to evaluate in must be empty (it holds documents)")
        update, close = bar("ingesting")
        with _closing(close):
            report = bot.ingest(dataset.documents, update)
        if bot.multilingual is not None:  # a --keep folder built without it: fill it first
            bot.multilingual.fill_now()
        aliases: dict[str, list[str]] = defaultdict(list)
        for new_id, stored_id in report.unchanged:
            aliases[stored_id].append(new_id)
        if extra := {d.id for d in bot.store.documents()} - {d.id for d in dataset.documents}:
            raise CrisisbotError(f"{data_dir} holds {len(extra)} documents that are not in "
                                 f"{dataset.name} (e.g. {min(extra)!r}); use another --keep folder")
        rows: list[tuple[Query, dict[str, float]]] = []
        update, close = bar("embedding queries")
        with _closing(close):
            vectors = _embed_in_batches(bot.embedder, [q.text for q in queries], update)
            # The same path as a question's: e5's "query: " vectors when its half runs.
            second: list[np.ndarray | None] = [None] * len(queries)
            if bot.multilingual is not None and bot.retriever.multilingual_ready():
                second = list(_embed_in_batches(bot.multilingual.retrieval.questions,
                                                [q.text for q in queries], update))
        update, close = bar("querying")
        with _closing(close):
            for done, (query, vector) in enumerate(zip(queries, vectors), start=1):
                asked_at = query.asked_at if dated else None
                hits = bot.retriever.search_vector(vector, 3 * k, query.text, asked_at,
                                                   multilingual_vector=second[done - 1])
                ranking = rank_documents([(h.stored.document.id, h.rank_score) for h in hits],
                                         aliases, k)
                metrics = query_metrics(ranking, dataset.qrels[query.id], k)
                if answers:
                    metrics.update(answer_metrics(bot.ask(query.text, asked_at=asked_at), query,
                                                  dataset.qrels[query.id], aliases))
                rows.append((query, metrics))
                update(done, len(queries))
        passages = len(bot.store.passage_ids())
    by_topic: dict[str, list[dict[str, float]]] = defaultdict(list)
    by_language: dict[str, list[dict[str, float]]] = defaultdict(list)
    for query, metrics in rows:
        if query.topic:
            by_topic[query.topic].append(metrics)
        if query.language:
            by_language[query.language].append(metrics)
    return {
        "dataset": dataset.name,
        "queries": len(rows),
        "documents": len(dataset.documents),
        "passages": passages,
        "metrics": mean_metrics([m for _, m in rows]),
        "topics": {t: {"queries": len(ms), **mean_metrics(ms)} for t, ms in sorted(by_topic.items())},
        "languages": {x: {"queries": len(ms), **mean_metrics(ms)} for x, ms in sorted(by_language.items())},
    }


def format_table(result: Mapping[str, Any]) -> str:
    """A small table: one row overall, one per topic, one per language (`metadata.language`)."""
    names = list(result["metrics"])
    rows = [("all", result["queries"], result["metrics"])]
    rows += [(t, m["queries"], m) for t, m in result["topics"].items()]
    rows += [(f"language {x}", m["queries"], m) for x, m in result.get("languages", {}).items()]
    width = max(len(str(r[0])) for r in rows) + 2
    lines = [(f"{result['dataset']}: {result['documents']:,} documents, {result['passages']:,} "
              f"passages, {result['queries']:,} queries"),
             "".ljust(width) + "queries".rjust(9) + "".join(n.rjust(12) for n in names)]
    for label, count, metrics in rows:
        lines.append(str(label).ljust(width) + f"{count:>9,}"
                     + "".join(f"{metrics.get(n, 0.0):>12.4f}" for n in names))
    return "\n".join(lines)
