#!/usr/bin/env python
"""Calibrates the answer threshold (Settings.min_passage_score) of the bot's relevance gate.

The bot answers a question when at least one of its top `retrieve_k` (8) retrieved passages
is accepted by `bot.core.relevance.QuestionRelevance`: cosine >= the threshold and at least one
content word shared with the question, or cosine >= the phrase floor (0.25) and a three-word
phrase of the question found verbatim in the passage. This script replays that decision for
thresholds t = 0.30 .. 0.60 (step 0.025), with `RelevancePolicy(min_score=t)` and the other
fields at their defaults, on four sets of questions:

A. on-topic: 30 questions the seed article answers, against a knowledge base of the seed
   article alone (SEED_QUESTIONS below);
B. on-topic: up to 500 realtimeqa-dev questions that have a relevant document in the qrels,
   against a knowledge base of the realtimeqa-dev corpus; also whether the relevant document
   is among the retrieved passages ("B-hit": it is, in the top retrieve_k);
C. off-topic: 60 questions about anything but the war (OFF_TOPIC_QUESTIONS), against three
   knowledge bases: the seed article; official-statements-2021-2022 (the bot's real domain,
   the realistic case); and the realtimeqa-dev corpus, general news of 2022-2026 that covers
   sports, celebrities and science too (reported as a worst case only).

It prints the distribution of the raw best-passage score of each set, then for each t the
share of on-topic questions that would be answered and of off-topic ones that would be
declined (and, for comparison, the same shares under the old rule "best score >= t"), and
suggests the t that maximises min(answered A, answered B-hit, declined C on the seed KB,
declined C on the statements KB). Last, it checks the bot's own decisions at its current
settings: `Answer.found` of `CrisisBot.ask`, per set, beside the replayed gate.

Run from the project root:

    .venv/bin/python -m benchmarks.quality.calibrate_threshold [--shared PATH] [--keep DIR]
        [--queries N] [--json]

--keep DIR keeps the three data folders (DIR/seed-kb, DIR/statements-kb, DIR/realtimeqa-kb)
and reuses them on the next run: ingesting again into a prepared folder finds every document
already stored and embeds nothing (building the statements KB takes some minutes; the others
less). Without --keep they are built in a temporary folder that is removed. Each folder must
hold exactly its set's documents (built with load_builtin_knowledge=False).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import (REALTIMEQA, SEED_ARTICLE, STATEMENTS, add_shared_option, data_folders,
                               finite, ingest_progress, make_log, percentile, read_jsonl, revision)

# The question lists live with the tests, which check the bot against them too:
# A, questions the seed article answers as members might ask them; C, questions to decline.
from tests.questions import OFF_TOPIC_QUESTIONS, SEED_QUESTIONS

if TYPE_CHECKING:
    from bot.core.relevance import RelevancePolicy
    from bot.runtime.service import CrisisBot
    from index.embedder import Embedder
    from index.retriever import ScoredPassage
    from knowledge.documents import Document

THRESHOLDS = [round(0.30 + 0.025 * i, 3) for i in range(13)]  # 0.30 .. 0.60
ADDED_BY = "calibration"

log = make_log("calibrate")


@dataclass
class Result:
    """One question asked against one knowledge base."""

    question: str
    best: float  # Answer.best_passage_score (the raw best cosine)
    found: bool  # Answer.found: the bot's own decision at its current settings
    gate: bool  # the replayed gate with the bot's own policy accepts one of the top k
    answered_at: list[bool]  # the replayed gate with RelevancePolicy(min_score=t), per THRESHOLDS
    retrieved: list[str]  # document ids of the retrieved passages, best first
    top_passage: str  # the start of the best passage's text
    accepted: dict[str, Any] | None = None  # the first passage the bot's own policy accepts
    relevant: str | None = None  # set B: the relevant document (resolved to its stored id)
    topic: str | None = None  # set B: metadata.topic

    @property
    def hit(self) -> bool:
        return self.relevant is not None and self.relevant in self.retrieved

    @property
    def hit_at_1(self) -> bool:
        return self.relevant is not None and self.retrieved[:1] == [self.relevant]


# -- knowledge bases ------------------------------------------------------------------------


def realtimeqa_documents(path: Path) -> list[Document]:
    """BEIR corpus lines (_id, title, text, metadata.date/source) as crisisbot news documents."""
    from knowledge.documents import Document, Kind, parse_published
    from knowledge.text import normalise_text

    documents = []
    for record in read_jsonl(path):
        text = normalise_text(record["text"])
        if not text:
            continue
        meta = record.get("metadata") or {}
        title = " ".join((record.get("title") or "").split())
        documents.append(Document(
            id=record["_id"],
            title=title or f"RealTime QA evidence {record['_id']}",
            text=text,
            publisher=meta.get("source"),
            kind=Kind.NEWS,
            published=parse_published(str(meta["date"]).replace("/", "-")) if meta.get("date") else None,
            added_by=ADDED_BY,
        ))
    return documents


def open_bot(folder: Path, embedder: Embedder | None) -> CrisisBot:
    """A bot with default settings but no built-in knowledge, over this data folder."""
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=folder, load_builtin_knowledge=False), embedder)
    bot.open()
    return bot


def fill_kb(bot: CrisisBot, documents: list[Document], label: str) -> dict[str, str]:
    """Ingest what the bot's folder does not hold yet; refuse a folder holding anything else.

    Returns the ids a document is stored under when its text was already stored under another
    id (the store keeps one copy of a text).
    """
    folder = bot.settings.data_dir
    before = bot.store.document_count()
    log(f"{label}: {folder} holds {before:,} documents; ingesting {len(documents):,}")
    started = time.perf_counter()
    report = bot.ingest(documents, ingest_progress(log, label))
    log(f"{label}: {len(report.added):,} added, {len(report.replaced):,} replaced, "
        f"{len(report.unchanged):,} already stored, {report.passages:,} passages embedded "
        f"in {time.perf_counter() - started:.1f} s")
    stored_as = {new: old for new, old in report.unchanged if new != old}
    wanted = {stored_as.get(d.id, d.id) for d in documents}
    extra = {d.id for d in bot.store.documents()} - wanted
    if extra:
        raise SystemExit(f"calibrate: {folder} holds {len(extra)} documents that are not part of "
                         f"the {label} set (e.g. {sorted(extra)[0]!r}); use another --keep folder")
    return stored_as


# -- asking ---------------------------------------------------------------------------------


def accepted_by(question: str, policy: RelevancePolicy, hits: list[ScoredPassage]) -> ScoredPassage | None:
    """The first of the retrieved passages the relevance gate accepts, as the composer checks it."""
    from bot.core.relevance import QuestionRelevance

    gate = QuestionRelevance(question, policy)
    for hit in hits:
        if gate.accepts(hit.score, hit.stored.passage.text, hit.stored.document.title):
            return hit
    return None


def describe_acceptance(question: str, policy: RelevancePolicy, hit: ScoredPassage) -> dict[str, Any]:
    from bot.core.relevance import content_terms

    shared = content_terms(question) & content_terms(f"{hit.stored.document.title} {hit.stored.passage.text}")
    return {
        "document": hit.stored.document.id,
        "score": hit.score,
        "why": (f"shares {', '.join(sorted(shared))}" if hit.score >= policy.min_score
                else "holds a phrase of the question (score under the threshold)"),
        "text": " ".join(hit.stored.passage.text.split())[:100],
    }


def ask_all(bot: CrisisBot, questions: Iterable[str], label: str) -> list[Result]:
    """Ask through CrisisBot.ask; replay the gate over what bot.retriever retrieves."""
    from bot.core.relevance import RelevancePolicy
    from bot.core.questions import clean_question

    questions = list(questions)
    k = bot.settings.retrieve_k
    own_policy = bot.composer.policy.relevance
    policies = [RelevancePolicy(min_score=t) for t in THRESHOLDS]
    results = []
    for number, question in enumerate(questions, start=1):
        answer = bot.ask(question)
        text = clean_question(question, bot.settings.max_question_chars)  # what ask() composes with
        hits = bot.retriever.search(text, k)
        if hits and abs(hits[0].score - answer.best_passage_score) > 1e-4:
            log(f"{label}: retriever and ask disagree on {question!r}: "
                f"{hits[0].score:.4f} vs {answer.best_passage_score:.4f}")
        accepted = accepted_by(text, own_policy, hits)
        results.append(Result(
            question=question,
            best=answer.best_passage_score,
            found=answer.found,
            gate=accepted is not None,
            answered_at=[accepted_by(text, policy, hits) is not None for policy in policies],
            retrieved=[h.stored.document.id for h in hits],
            top_passage=" ".join(hits[0].stored.passage.text.split())[:100] if hits else "",
            accepted=describe_acceptance(text, own_policy, accepted) if accepted else None,
        ))
        if number % 100 == 0:
            log(f"{label}: {number}/{len(questions)} questions")
    return results


def realtimeqa_queries(folder: Path, limit: int) -> list[tuple[str, str, str | None]]:
    """(question, relevant document id, topic) of the first `limit` queries with a qrel > 0."""
    relevant: dict[str, str] = {}
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as lines:
        next(lines)  # header
        for line in lines:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and float(parts[2]) > 0:
                relevant.setdefault(parts[0], parts[1])  # the first relevant document
    chosen = []
    for record in read_jsonl(folder / "queries.jsonl"):
        if record["_id"] in relevant:
            topic = (record.get("metadata") or {}).get("topic")
            chosen.append((record["text"], relevant[record["_id"]], topic))
            if len(chosen) == limit:
                break
    return chosen


# -- analysis -------------------------------------------------------------------------------

ON_TOPIC = ("A", "B_hit", "B_all", "B_ukraine_hit")
OFF_TOPIC = ("C_seed", "C_statements", "C_rtqa")
DECIDING = ("A", "B_hit", "C_seed", "C_statements")  # the suggestion maximises their minimum


def distribution(scores: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(scores),
        "min": min(scores) if scores else float("nan"),
        "p5": percentile(scores, 5),
        "p10": percentile(scores, 10),
        "median": percentile(scores, 50),
        "p90": percentile(scores, 90),
        "p95": percentile(scores, 95),
        "max": max(scores) if scores else float("nan"),
        "mean": statistics.fmean(scores) if scores else float("nan"),
    }


def share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def column(name: str) -> str:
    return f"{name}_answered" if name in ON_TOPIC else f"{name}_declined"


def sweep(sets: dict[str, list[Result]], gate: bool) -> list[dict[str, float]]:
    """For each threshold: shares answered (on-topic sets) and declined (off-topic sets).

    gate=True replays the relevance gate (the bot's rule); False is the old rule, best >= t.
    """
    rows = []
    for i, t in enumerate(THRESHOLDS):
        row: dict[str, float] = {"threshold": t}
        for name in ON_TOPIC + OFF_TOPIC:
            answered = share([r.answered_at[i] if gate else r.best >= t for r in sets[name]])
            row[column(name)] = answered if name in ON_TOPIC else 1 - answered
        deciding = [row[column(name)] for name in DECIDING]
        row["worst"] = min(deciding)
        row["mean_of_four"] = statistics.fmean(deciding)
        rows.append(row)
    return rows


def suggest(rows: list[dict[str, float]], current: float) -> dict[str, Any]:
    """Max of the worst share; ties broken by the mean of the four, then nearness to current."""
    best_worst = max(r["worst"] for r in rows)
    tied = [r for r in rows if abs(r["worst"] - best_worst) < 1e-12]
    chosen = max(tied, key=lambda r: (round(r["mean_of_four"], 12), -abs(r["threshold"] - current)))
    return {"threshold": chosen["threshold"], "worst": best_worst,
            "tied": [r["threshold"] for r in tied], "row": chosen}


# -- output ---------------------------------------------------------------------------------

SET_LABELS = {
    "A": "A   on-topic, seed questions / seed KB",
    "B_all": "B   realtimeqa questions / rtqa KB, all",
    "B_hit": "B   ... relevant doc in top k",
    "B_miss": "B   ... relevant doc not retrieved",
    "B_ukraine_hit": "B   ... hit, topic ukraine-russia",
    "C_seed": "C   off-topic / seed KB",
    "C_statements": "C   off-topic / statements KB",
    "C_rtqa": "C   off-topic / rtqa KB (worst case)",
}
SWEEP_HEADER = (f"{'t':>6}{'A ans':>9}{'B-hit ans':>11}{'B-all ans':>11}{'B-ua-hit':>10}"
                f"{'C-seed dec':>12}{'C-stmt dec':>12}{'C-rtqa dec':>12}{'min(A,Bh,Cs,Cst)':>18}")


def sweep_lines(rows: list[dict[str, float]], current: float, suggested: float | None) -> list[str]:
    lines = [SWEEP_HEADER]
    for r in rows:
        mark = " <- current" if abs(r["threshold"] - current) < 1e-9 else ""
        if suggested is not None and abs(r["threshold"] - suggested) < 1e-9:
            mark += " <- suggested"
        lines.append(
            f"{r['threshold']:>6.3f}{100 * r['A_answered']:>8.1f}%{100 * r['B_hit_answered']:>10.1f}%"
            f"{100 * r['B_all_answered']:>10.1f}%{100 * r['B_ukraine_hit_answered']:>9.1f}%"
            f"{100 * r['C_seed_declined']:>11.1f}%{100 * r['C_statements_declined']:>11.1f}%"
            f"{100 * r['C_rtqa_declined']:>11.1f}%{100 * r['worst']:>17.1f}%{mark}"
        )
    return lines


def kb_line(name: str, kb: dict[str, int]) -> str:
    plural = "s" if kb["documents"] != 1 else ""
    return f"{name} KB: {kb['documents']:,} document{plural}, {kb['passages']:,} passages"


def render(report: dict[str, Any]) -> str:
    s, retrieval = report["settings"], report["b_retrieval"]
    current = s["min_passage_score"]
    lines = [
        f"threshold calibration: model {s['model_name']}, retrieve_k {s['retrieve_k']}, current "
        f"min_passage_score {current:.3f}, min_shared_terms {s['min_shared_terms']}, "
        f"phrase_match_floor {s['phrase_match_floor']:.3f}; crisisbot {report['revision']}",
        "; ".join(kb_line(name, kb) for name, kb in report["kbs"].items()),
        f"B: {report['b_retrieval']['n']} queries; relevant document retrieved in the top "
        f"{s['retrieve_k']}: {retrieval['hit']} ({100 * retrieval['hit_rate']:.1f}%), "
        f"at rank 1: {retrieval['hit_at_1']} ({100 * retrieval['hit_at_1_rate']:.1f}%)",
        "",
        "Note: the rtqa KB is general news (2022-2026), so some off-topic questions (celebrities,",
        "sports, space) meet genuinely related passages there; C on the rtqa KB is a worst case and",
        "does not enter the suggestion. C on the statements KB is the realistic off-topic case.",
    ]
    if s.get("overrides"):
        lines.append(f"WARNING: settings come from the environment too ({', '.join(s['overrides'])}); "
                     "the check below is not at the default settings")
    lines += [
        "",
        "Best passage score (raw cosine) per set",
        f"{'set':<42}{'n':>5}{'min':>7}{'p5':>7}{'p10':>7}{'median':>8}{'p90':>7}{'p95':>7}{'max':>7}",
    ]
    for name, label in SET_LABELS.items():
        d = report["distributions"][name]
        lines.append(f"{label:<42}{d['n']:>5}{d['min']:>7.3f}{d['p5']:>7.3f}{d['p10']:>7.3f}"
                     f"{d['median']:>8.3f}{d['p90']:>7.3f}{d['p95']:>7.3f}{d['max']:>7.3f}")
    sug = report["suggestion"]
    lines += [
        "",
        "Share answered (on-topic) / declined (off-topic) with the relevance gate at threshold t",
        f"(answered: one of the top {s['retrieve_k']} passages accepted by "
        "QuestionRelevance(question, RelevancePolicy(min_score=t)))",
    ]
    lines += sweep_lines(report["sweep"], current, sug["threshold"])
    lines += ["", "For comparison, the old rule: answered when the best passage score >= t"]
    lines += sweep_lines(report["sweep_raw"], current, None)
    tied = ", ".join(f"{t:.3f}" for t in sug["tied"])
    lines += [
        "",
        f"Suggested threshold: {sug['threshold']:.3f} (min of A answered, B-hit answered, C declined on "
        f"the seed and statements KBs = {100 * sug['worst']:.1f}%; thresholds reaching it: {tied}; "
        "ties broken by the mean of the four, then nearness to the current value)",
        "",
        f"Check at the current settings (min_passage_score {current:.3f}): the bot's own decisions, "
        "Answer.found of CrisisBot.ask",
    ]
    for name, c in report["current_check"].items():
        n = c["n"]
        line = (f"   {SET_LABELS[name].strip():<40} answered {c['found']:>3}/{n:<3} "
                f"({100 * c['found'] / n if n else float('nan'):5.1f}%)")
        notes = []
        if c["gate"] != c["found"]:
            notes.append(f"replayed gate answers {c['gate']}")
        notes.append(f"best score >= threshold: {c['over']}")
        lines.append(line + "  [" + "; ".join(notes) + "]")
    lines += ["", "On-topic questions (A) the bot declined at the current settings, seed KB"]
    lines += [f"   {r['best']:.3f}  {r['question']}" for r in report["extremes"]["A_declined"]] or ["   none"]
    lines += ["", "Lowest-scoring on-topic questions (A), seed KB"]
    lines += [f"   {r['best']:.3f}  {r['question']}{'' if r['found'] else '   (declined)'}"
              for r in report["extremes"]["A_lowest"]]
    for name in OFF_TOPIC:
        answered = report["extremes"][f"{name}_answered"]
        shown = answered[:8]
        first = f", first {len(shown)}" if len(answered) > len(shown) else ""
        lines += ["", f"Off-topic questions the bot answered at the current settings "
                  f"({SET_LABELS[name][4:].strip()}): {report['current_check'][name]['found']}{first}"]
        for r in shown:
            acc = r["accepted"]
            if acc is None:  # Answer.found without an accepted passage: should not happen
                lines.append(f"   {r['best']:.3f}  {r['question']}  (no passage accepted by the "
                             "replayed gate)")
                continue
            lines.append(f"   {r['best']:.3f}  {r['question']}\n          accepted [{acc['document']}] "
                         f"{acc['score']:.3f}, {acc['why']}: {acc['text']}")
    for name in ("C_seed", "C_statements"):
        lines += ["", f"Highest-scoring off-topic questions ({SET_LABELS[name][4:].strip()})"]
        lines += [f"   {r['best']:.3f}  {r['question']}{'   (answered)' if r['found'] else ''}\n"
                  f"          top passage [{(r['retrieved'] or ['-'])[0]}]: {r['top_passage']}"
                  for r in report["extremes"][f"{name}_highest"]]
    if report.get("kept"):
        lines += ["", f"data folders kept in {report['kept']} (reused by the next run with --keep)"]
    return "\n".join(lines)


def run(shared: Path, root: Path, queries_limit: int) -> dict[str, Any]:
    bots: dict[str, CrisisBot] = {}
    try:
        bots["seed"] = open_bot(root / "seed-kb", None)
        embedder = bots["seed"].embedder  # one model for the three bots
        bots["statements"] = open_bot(root / "statements-kb", embedder)
        bots["rtqa"] = open_bot(root / "realtimeqa-kb", embedder)
        fill_kb(bots["seed"], bots["seed"].read([shared / SEED_ARTICLE], ADDED_BY).documents, "seed KB")
        fill_kb(bots["statements"], bots["statements"].read([shared / STATEMENTS], ADDED_BY).documents,
                "statements KB")
        stored_as = fill_kb(bots["rtqa"], realtimeqa_documents(shared / REALTIMEQA / "corpus.jsonl"),
                            "rtqa KB")

        log(f"A: {len(SEED_QUESTIONS)} on-topic questions against the seed KB")
        a = ask_all(bots["seed"], SEED_QUESTIONS, "A")
        queries = realtimeqa_queries(shared / REALTIMEQA, queries_limit)
        log(f"B: {len(queries)} realtimeqa-dev questions against the rtqa KB")
        b = ask_all(bots["rtqa"], [q for q, _, _ in queries], "B")
        for result, (_, relevant, topic) in zip(b, queries):
            result.relevant = stored_as.get(relevant, relevant)
            result.topic = topic
        log(f"C: {len(OFF_TOPIC_QUESTIONS)} off-topic questions against the three KBs")
        c_seed = ask_all(bots["seed"], OFF_TOPIC_QUESTIONS, "C seed")
        c_statements = ask_all(bots["statements"], OFF_TOPIC_QUESTIONS, "C statements")
        c_rtqa = ask_all(bots["rtqa"], OFF_TOPIC_QUESTIONS, "C rtqa")

        settings = bots["seed"].settings
        kbs = {name: {"documents": bot.store.document_count(), "passages": int(len(bot.store.passage_ids()))}
               for name, bot in bots.items()}
    finally:
        for bot in bots.values():
            bot.close()

    sets = {
        "A": a,
        "B_all": b,
        "B_hit": [r for r in b if r.hit],
        "B_miss": [r for r in b if not r.hit],
        "B_ukraine_hit": [r for r in b if r.hit and r.topic == "ukraine-russia"],
        "C_seed": c_seed,
        "C_statements": c_statements,
        "C_rtqa": c_rtqa,
    }
    rows = sweep(sets, gate=True)
    current = settings.min_passage_score
    hits = len(sets["B_hit"])
    overrides = sorted(k for k in os.environ if k.startswith("CRISISBOT_"))

    def brief(r: Result) -> dict[str, Any]:
        return {"question": r.question, "best": r.best, "found": r.found, "retrieved": r.retrieved,
                "top_passage": r.top_passage, "accepted": r.accepted}

    return {
        "revision": revision(),
        "settings": {"model_name": settings.model_name, "retrieve_k": settings.retrieve_k,
                     "min_passage_score": current, "min_shared_terms": settings.min_shared_terms,
                     "phrase_match_floor": settings.phrase_match_floor, "overrides": overrides},
        "thresholds": THRESHOLDS,
        "kbs": kbs,
        "b_retrieval": {"n": len(b), "hit": hits, "hit_rate": hits / len(b) if b else float("nan"),
                        "hit_at_1": sum(r.hit_at_1 for r in b),
                        "hit_at_1_rate": sum(r.hit_at_1 for r in b) / len(b) if b else float("nan")},
        "distributions": {name: distribution([r.best for r in results]) for name, results in sets.items()},
        "sweep": rows,
        "sweep_raw": sweep(sets, gate=False),
        "suggestion": suggest(rows, current),
        "current_check": {
            name: {"n": len(results), "found": sum(r.found for r in results),
                   "gate": sum(r.gate for r in results),
                   "over": sum(r.best >= current for r in results)}
            for name, results in sets.items()
        },
        "extremes": {
            "A_declined": [brief(r) for r in a if not r.found],
            "A_lowest": [brief(r) for r in sorted(a, key=lambda r: r.best)[:5]],
            **{f"{name}_answered": [brief(r) for r in sorted(sets[name], key=lambda r: -r.best) if r.found]
               for name in OFF_TOPIC},
            **{f"{name}_highest": [brief(r) for r in sorted(sets[name], key=lambda r: -r.best)[:5]]
               for name in ("C_seed", "C_statements")},
        },
        "questions": {name: [{"question": r.question, "best": r.best, "found": r.found,
                              "answered_at": r.answered_at,
                              "hit": r.hit if name.startswith("B") else None}
                             for r in results]
                      for name, results in (("A", a), ("B", b), ("C_seed", c_seed),
                                            ("C_statements", c_statements), ("C_rtqa", c_rtqa))},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_shared_option(parser)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the data folders in DIR, and reuse them if they are there")
    parser.add_argument("--queries", type=int, default=500,
                        help="realtimeqa-dev questions with a relevant document (default 500)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the tables")
    args = parser.parse_args(argv)

    shared = args.shared.resolve()
    for needed in (SEED_ARTICLE, STATEMENTS, REALTIMEQA / "corpus.jsonl", REALTIMEQA / "queries.jsonl",
                   REALTIMEQA / "qrels" / "test.tsv"):
        if not (shared / needed).is_file():
            parser.error(f"{shared / needed}: no such file (is --shared right?)")
    if args.queries < 1:
        parser.error("--queries must be at least 1")
    assert len(SEED_QUESTIONS) == 30 and len(OFF_TOPIC_QUESTIONS) == 60
    assert len(set(SEED_QUESTIONS)) == 30 and len(set(OFF_TOPIC_QUESTIONS)) == 60

    with data_folders(args.keep, "crisisbot-calibrate-") as root:
        log(f"data folders in {root}")
        report = run(shared, root, args.queries)
    report["kept"] = str(root) if args.keep else None
    if args.json:
        print(json.dumps(finite(report), indent=2, allow_nan=False))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
