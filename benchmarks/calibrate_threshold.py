#!/usr/bin/env python
"""Calibrates the answer threshold (Settings.min_passage_score): the cosine of the best passage.

Below the threshold the bot declines. This script measures the best-passage scores the
threshold has to separate:

A. on-topic: 30 questions the seed article answers, against a knowledge base of the seed
   article alone (SEED_QUESTIONS below);
B. on-topic: up to 500 realtimeqa-dev questions that have a relevant document in the qrels,
   against a knowledge base of the realtimeqa-dev corpus; also whether the relevant document
   is among the retrieved passages ("B-hit": it is, in the top retrieve_k);
C. off-topic: 60 questions about anything but the war (OFF_TOPIC_QUESTIONS), against both
   knowledge bases.

It prints the score distribution of each set, then for thresholds 0.25 .. 0.55 the share of
on-topic questions that would be answered and of off-topic ones that would be declined, and
suggests the threshold that maximises min(answered A, answered B-hit, declined C on each KB).
A question "would be answered" at threshold t when its best passage score is >= t, which is
how the composer decides (the bot's own decision at the configured threshold is checked too).

Run from the project root:

    .venv/bin/python benchmarks/calibrate_threshold.py [--shared PATH] [--keep DIR]
        [--queries N] [--json]

--keep DIR keeps the two data folders (DIR/seed-kb, DIR/realtimeqa-kb) and reuses them on the
next run: ingesting again into a prepared folder finds every document already stored and
embeds nothing. Without --keep they are built in a temporary folder that is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

if TYPE_CHECKING:
    from bot.service import CrisisBot
    from knowledge.documents import Document

SEED_ARTICLE = Path("knowledge/turning-tides-2024-11.md")
RTQA = Path("eval/realtimeqa-dev")
THRESHOLDS = [round(0.25 + 0.025 * i, 3) for i in range(13)]  # 0.25 .. 0.55
ADDED_BY = "calibration"

# Set A: questions the seed article (turning-tides-2024-11) answers, as members might ask them.
SEED_QUESTIONS = [
    "How many North Korean troops have arrived in Russia?",
    "so how many troops did NK send??",
    "nk soldiers in russia, how many are there",
    "Did North Korea also send weapons to Russia, or only soldiers?",
    "What did Macron call North Korea's military support for Russia?",
    "What did Biden allow Ukraine to do after the North Korean troops arrived?",
    "did biden let ukraine hit russia with long range missiles or not",
    "Can Ukraine now use ATACMS missiles against Russian positions?",
    "Has Kyiv already started firing the ATACMS?",
    "Why is North Korea joining a European war such a big deal?",
    "is it normal for an asian country to fight in a war in europe?",
    "Will the long-range missiles change the course of the war?",
    "Could Britain and France send Ukraine more military support now?",
    "Does the missile decision drag the United States deeper into the conflict?",
    "What does Trump's election mean for the war in Ukraine?",
    "trump says he will end the war in ukraine, what's his plan?",
    "How did Zelensky react to Trump winning the election?",
    "When did Zelensky send his congratulations to Trump?",
    "What is 'peace through strength'?",
    "peace through strength - where does that idea even come from",
    "Which Roman emperor is linked to the idea of peace through strength?",
    "Who is Robert O'Brien and what does he say about Biden's Ukraine policy?",
    "Did the Biden administration hold back weapons that Ukraine needed?",
    "How would a Trump administration end the war, according to O'Brien?",
    "Who would pay for Ukraine's military support under Trump's framework?",
    "Why does Zelensky seem to welcome Trump's approach?",
    "What are the two developments that changed the Ukrainian crisis in November 2024?",
    "what are the risks and opportunities of this new phase of the war",
    "Are peace negotiations between Russia and Ukraine getting closer?",
    "Is the war a threat to European security?",
]

# Set C: questions a chat bot about the war should decline.
OFF_TOPIC_QUESTIONS = [
    # sports
    "What is the offside rule in football?",
    "How many players are on a basketball team on the court?",
    "who has won the most tennis grand slams ever",
    "How long is a marathon in kilometres?",
    "What's a good beginner workout routine for running 5k?",
    "How does scoring work in cricket?",
    # cooking
    "How do I make a sourdough starter from scratch?",
    "what temperature should i bake chicken breasts at",
    "Can I substitute baking soda for baking powder?",
    "How long do you boil an egg for a runny yolk?",
    "What's the best way to cook basmati rice?",
    "easy vegetarian lasagna recipe?",
    # tech support
    "My laptop won't connect to wifi, what should I do?",
    "How do I reset my iPhone to factory settings?",
    "why is my printer printing blank pages",
    "How do I install Python on Windows?",
    "What's the difference between RAM and storage?",
    "How can I recover a deleted file on a Mac?",
    "my phone battery drains really fast, how to fix",
    "How do I change my Gmail password?",
    # celebrities and entertainment
    "How old is Taylor Swift?",
    "Who is Beyonce married to?",
    "what movies has leonardo dicaprio been in",
    "Who played Harry Potter in the films?",
    "When is the next season of Stranger Things coming out?",
    "What's Ed Sheeran's most popular song?",
    # science trivia
    "Why is the sky blue?",
    "How far away is the Moon from the Earth?",
    "What is the chemical formula of water?",
    "how many bones are in the human body",
    "What is the speed of light?",
    "Why do cats purr?",
    "How do vaccines train the immune system?",
    "What causes the northern lights?",
    # weather
    "Will it rain tomorrow in London?",
    "what's the weather like in barcelona in april",
    "How do hurricanes form?",
    "What is the difference between weather and climate?",
    "Is it going to snow this weekend?",
    # travel
    "What are the best things to do in Paris for a weekend?",
    "Do I need a visa to travel from the US to Japan?",
    "cheapest way to get from the airport to downtown tokyo",
    "What should I pack for a beach holiday in Thailand?",
    "When is the best time to visit Iceland?",
    "How early should I arrive at the airport for an international flight?",
    # health, money, home, misc
    "How much water should I drink every day?",
    "what's a good stretch for lower back pain",
    "How can I get better sleep?",
    "Should I pay off my credit card or save money first?",
    "How does compound interest work?",
    "What is a Roth IRA?",
    "How often should I water a cactus?",
    "how do i get rid of fruit flies in my kitchen",
    "What's the best way to train a puppy to sit?",
    "How do I remove a red wine stain from a carpet?",
    "Can you recommend a good fantasy book series?",
    "How do I write a cover letter for a job application?",
    "what's a fun board game for a family of four",
    "How do I learn to play the guitar?",
    "What is the capital of Australia?",
]


@dataclass
class Result:
    """One question asked against one knowledge base."""

    question: str
    best: float  # Answer.best_passage_score
    found: bool  # the bot answered (at the configured threshold)
    retrieved: list[str]  # document ids of the retrieved passages, best first
    top_passage: str  # the start of the best passage's text
    relevant: str | None = None  # set B: the relevant document (resolved to its stored id)
    topic: str | None = None  # set B: metadata.topic

    @property
    def hit(self) -> bool:
        return self.relevant is not None and self.relevant in self.retrieved

    @property
    def hit_at_1(self) -> bool:
        return self.relevant is not None and self.retrieved[:1] == [self.relevant]


def revision() -> str:
    """The project's commit, marked when the working tree differs from it."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(PROJECT), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def log(message: str) -> None:
    print(f"[calibrate {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- knowledge bases ------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def realtimeqa_documents(path: Path) -> list[Document]:
    """BEIR corpus lines (_id, title, text, metadata.date/source) as crisisbot news documents."""
    from knowledge.documents import Document, Kind, parse_published
    from knowledge.readers import normalise_text

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


def open_kb(folder: Path, documents: list[Document], label: str) -> tuple[CrisisBot, dict[str, str]]:
    """A bot over exactly these documents, ingesting what the folder does not hold yet.

    Returns the bot and the ids a document is stored under when its text was already stored
    under another id (the store keeps one copy of a text).
    """
    from bot.service import CrisisBot
    from bot.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=folder, load_builtin_knowledge=False))
    bot.open()
    before = bot.store.document_count()
    log(f"{label}: {folder} holds {before:,} documents; ingesting {len(documents):,}")
    started = time.perf_counter()
    last = [started]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] >= 10 or done == total:
            last[0] = time.perf_counter()
            log(f"{label}: {done:,}/{total:,} documents, {last[0] - started:.0f} s")

    report = bot.ingest(documents, progress)
    log(f"{label}: {len(report.added):,} added, {len(report.replaced):,} replaced, "
        f"{len(report.unchanged):,} already stored, {report.passages:,} passages embedded "
        f"in {time.perf_counter() - started:.1f} s")
    stored_as = {new: old for new, old in report.unchanged if new != old}
    wanted = {stored_as.get(d.id, d.id) for d in documents}
    extra = {d.id for d in bot.store.documents()} - wanted
    if extra:
        bot.close()
        raise SystemExit(f"calibrate: {folder} holds {len(extra)} documents that are not part of "
                         f"the {label} set (e.g. {sorted(extra)[0]!r}); use another --keep folder")
    return bot, stored_as


# -- asking ---------------------------------------------------------------------------------


def ask_all(bot: CrisisBot, questions: Iterable[str], label: str) -> list[Result]:
    """Ask through CrisisBot.ask, and look at what was retrieved through bot.retriever."""
    from bot.service import clean_question

    questions = list(questions)
    k = bot.settings.retrieve_k
    results = []
    for number, question in enumerate(questions, start=1):
        answer = bot.ask(question)
        hits = bot.retriever.search(clean_question(question, bot.settings.max_question_chars), k)
        if hits and abs(hits[0].score - answer.best_passage_score) > 1e-4:
            log(f"{label}: retriever and ask disagree on {question!r}: "
                f"{hits[0].score:.4f} vs {answer.best_passage_score:.4f}")
        results.append(Result(
            question=question,
            best=answer.best_passage_score,
            found=answer.found,
            retrieved=[h.stored.document.id for h in hits],
            top_passage=" ".join(hits[0].stored.passage.text.split())[:100] if hits else "",
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


def share_at_least(scores: Sequence[float], threshold: float) -> float:
    return sum(s >= threshold for s in scores) / len(scores) if scores else float("nan")


def sweep(sets: dict[str, list[Result]]) -> list[dict[str, float]]:
    """For each threshold: shares answered (on-topic sets) and declined (off-topic sets)."""
    score = {name: [r.best for r in results] for name, results in sets.items()}
    rows = []
    for t in THRESHOLDS:
        row = {
            "threshold": t,
            "A_answered": share_at_least(score["A"], t),
            "B_hit_answered": share_at_least(score["B_hit"], t),
            "B_all_answered": share_at_least(score["B_all"], t),
            "B_ukraine_hit_answered": share_at_least(score["B_ukraine_hit"], t),
            "C_seed_declined": 1 - share_at_least(score["C_seed"], t),
            "C_rtqa_declined": 1 - share_at_least(score["C_rtqa"], t),
        }
        row["worst"] = min(row["A_answered"], row["B_hit_answered"],
                           row["C_seed_declined"], row["C_rtqa_declined"])
        row["mean_of_four"] = statistics.fmean(
            [row["A_answered"], row["B_hit_answered"], row["C_seed_declined"], row["C_rtqa_declined"]]
        )
        rows.append(row)
    return rows


def suggest(rows: list[dict[str, float]], current: float) -> dict[str, Any]:
    """Max of the worst share; ties broken by the mean of the four, then nearness to current."""
    best_worst = max(r["worst"] for r in rows)
    tied = [r for r in rows if abs(r["worst"] - best_worst) < 1e-12]
    chosen = max(tied, key=lambda r: (round(r["mean_of_four"], 12), -abs(r["threshold"] - current)))
    return {"threshold": chosen["threshold"], "worst": best_worst,
            "tied": [r["threshold"] for r in tied], "row": chosen}


def finite(value: Any) -> Any:
    """The report with NaN (an empty set's statistics) as null, so the JSON is standard."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


# -- output ---------------------------------------------------------------------------------

SET_LABELS = {
    "A": "A   on-topic, seed questions / seed KB",
    "B_all": "B   realtimeqa questions / rtqa KB, all",
    "B_hit": "B   ... relevant doc in top k",
    "B_miss": "B   ... relevant doc not retrieved",
    "B_ukraine_hit": "B   ... hit, topic ukraine-russia",
    "C_seed": "C   off-topic / seed KB",
    "C_rtqa": "C   off-topic / rtqa KB",
}


def render(report: dict[str, Any]) -> str:
    s = report["settings"]
    lines = [
        f"threshold calibration: model {s['model_name']}, retrieve_k {s['retrieve_k']}, "
        f"current min_passage_score {s['min_passage_score']:.3f}; crisisbot {report['revision']}",
        f"seed KB: {report['kbs']['seed']['documents']} document, {report['kbs']['seed']['passages']} passages"
        f"; rtqa KB: {report['kbs']['rtqa']['documents']:,} documents, "
        f"{report['kbs']['rtqa']['passages']:,} passages",
        f"B: {report['b_retrieval']['n']} queries; relevant document retrieved in the top "
        f"{s['retrieve_k']}: {report['b_retrieval']['hit']} ({100 * report['b_retrieval']['hit_rate']:.1f}%), "
        f"at rank 1: {report['b_retrieval']['hit_at_1']} ({100 * report['b_retrieval']['hit_at_1_rate']:.1f}%)",
        "",
        "Note: the rtqa KB is general news (2022-2026), so some off-topic questions (celebrities,",
        "sports, space) meet genuinely related passages there; C on the rtqa KB is a worst case.",
        "",
        "Best passage score (cosine) per set",
        f"{'set':<42}{'n':>5}{'min':>7}{'p5':>7}{'p10':>7}{'median':>8}{'p90':>7}{'p95':>7}{'max':>7}",
    ]
    for name, label in SET_LABELS.items():
        d = report["distributions"][name]
        lines.append(f"{label:<42}{d['n']:>5}{d['min']:>7.3f}{d['p5']:>7.3f}{d['p10']:>7.3f}"
                     f"{d['median']:>8.3f}{d['p90']:>7.3f}{d['p95']:>7.3f}{d['max']:>7.3f}")
    lines += [
        "",
        "Share answered (on-topic) / declined (off-topic) if the threshold were t (best score >= t answers)",
        f"{'t':>6}{'A ans':>9}{'B-hit ans':>11}{'B-all ans':>11}{'B-ua-hit':>10}"
        f"{'C-seed dec':>12}{'C-rtqa dec':>12}{'min(A,Bh,C)':>13}",
    ]
    current = s["min_passage_score"]
    for r in report["sweep"]:
        mark = " <- current" if abs(r["threshold"] - current) < 1e-9 else ""
        if abs(r["threshold"] - report["suggestion"]["threshold"]) < 1e-9:
            mark += " <- suggested"
        lines.append(
            f"{r['threshold']:>6.3f}{100 * r['A_answered']:>8.1f}%{100 * r['B_hit_answered']:>10.1f}%"
            f"{100 * r['B_all_answered']:>10.1f}%{100 * r['B_ukraine_hit_answered']:>9.1f}%"
            f"{100 * r['C_seed_declined']:>11.1f}%{100 * r['C_rtqa_declined']:>11.1f}%"
            f"{100 * r['worst']:>12.1f}%{mark}"
        )
    sug = report["suggestion"]
    tied = ", ".join(f"{t:.3f}" for t in sug["tied"])
    lines += [
        "",
        f"Suggested threshold: {sug['threshold']:.3f} (min of A answered, B-hit answered, C declined on "
        f"both KBs = {100 * sug['worst']:.1f}%; thresholds reaching it: {tied}; ties broken by the "
        "mean of the four, then nearness to the current value)",
        "",
        f"Check at the current threshold {current:.3f}: the bot's own decisions (Answer.found)",
    ]
    for name, c in report["current_check"].items():
        lines.append(f"   {SET_LABELS[name].strip():<40} answered {c['found']}/{c['n']}"
                     + ("" if c["found"] == c["over"] else f" (best score >= threshold: {c['over']})"))
    lines += ["", "Lowest-scoring on-topic questions (A), seed KB"]
    lines += [f"   {r['best']:.3f}  {r['question']}" for r in report["extremes"]["A_lowest"]]
    for name in ("C_seed", "C_rtqa"):
        lines += ["", f"Highest-scoring off-topic questions ({name.replace('_', ' on ')} KB)"]
        lines += [f"   {r['best']:.3f}  {r['question']}\n          top passage [{r['retrieved'][0]}]: "
                  f"{r['top_passage']}" for r in report["extremes"][f"{name}_highest"]]
    if report.get("kept"):
        lines += ["", f"data folders kept in {report['kept']} (reused by the next run with --keep)"]
    return "\n".join(lines)


def run(shared: Path, root: Path, queries_limit: int) -> dict[str, Any]:
    from knowledge.readers import read_paths

    seed_bot: CrisisBot | None = None
    rtqa_bot: CrisisBot | None = None
    try:
        seed_docs = read_paths([shared / SEED_ARTICLE], ADDED_BY).documents
        seed_bot, _ = open_kb(root / "seed-kb", seed_docs, "seed KB")
        rtqa_bot, stored_as = open_kb(root / "realtimeqa-kb",
                                      realtimeqa_documents(shared / RTQA / "corpus.jsonl"), "rtqa KB")

        log(f"A: {len(SEED_QUESTIONS)} on-topic questions against the seed KB")
        a = ask_all(seed_bot, SEED_QUESTIONS, "A")
        queries = realtimeqa_queries(shared / RTQA, queries_limit)
        log(f"B: {len(queries)} realtimeqa-dev questions against the rtqa KB")
        b = ask_all(rtqa_bot, [q for q, _, _ in queries], "B")
        for result, (_, relevant, topic) in zip(b, queries):
            result.relevant = stored_as.get(relevant, relevant)
            result.topic = topic
        log(f"C: {len(OFF_TOPIC_QUESTIONS)} off-topic questions against both KBs")
        c_seed = ask_all(seed_bot, OFF_TOPIC_QUESTIONS, "C seed")
        c_rtqa = ask_all(rtqa_bot, OFF_TOPIC_QUESTIONS, "C rtqa")

        settings = rtqa_bot.settings
        kbs = {
            name: {"documents": bot.store.document_count(), "passages": int(len(bot.store.passage_ids()))}
            for name, bot in (("seed", seed_bot), ("rtqa", rtqa_bot))
        }
    finally:
        for bot in (seed_bot, rtqa_bot):
            if bot is not None:
                bot.close()

    sets = {
        "A": a,
        "B_all": b,
        "B_hit": [r for r in b if r.hit],
        "B_miss": [r for r in b if not r.hit],
        "B_ukraine_hit": [r for r in b if r.hit and r.topic == "ukraine-russia"],
        "C_seed": c_seed,
        "C_rtqa": c_rtqa,
    }
    rows = sweep(sets)
    current = settings.min_passage_score
    hits = len(sets["B_hit"])
    return {
        "revision": revision(),
        "settings": {"model_name": settings.model_name, "retrieve_k": settings.retrieve_k,
                     "min_passage_score": current},
        "kbs": kbs,
        "b_retrieval": {"n": len(b), "hit": hits, "hit_rate": hits / len(b) if b else float("nan"),
                        "hit_at_1": sum(r.hit_at_1 for r in b),
                        "hit_at_1_rate": sum(r.hit_at_1 for r in b) / len(b) if b else float("nan")},
        "distributions": {name: distribution([r.best for r in results]) for name, results in sets.items()},
        "sweep": rows,
        "suggestion": suggest(rows, current),
        "current_check": {
            name: {"n": len(results), "found": sum(r.found for r in results),
                   "over": sum(r.best >= current for r in results)}
            for name, results in sets.items()
        },
        "extremes": {
            "A_lowest": [asdict(r) for r in sorted(a, key=lambda r: r.best)[:5]],
            "C_seed_highest": [asdict(r) for r in sorted(c_seed, key=lambda r: -r.best)[:5]],
            "C_rtqa_highest": [asdict(r) for r in sorted(c_rtqa, key=lambda r: -r.best)[:5]],
        },
        "questions": {name: [{"question": r.question, "best": r.best, "found": r.found,
                              "hit": r.hit if name.startswith("B") else None}
                             for r in results]
                      for name, results in (("A", a), ("B", b), ("C_seed", c_seed), ("C_rtqa", c_rtqa))},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=PROJECT.parent / "shared",
                        help="the shared data folder (default: ../shared from the project root)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the data folders in DIR, and reuse them if they are there")
    parser.add_argument("--queries", type=int, default=500,
                        help="realtimeqa-dev questions with a relevant document (default 500)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the tables")
    args = parser.parse_args(argv)

    shared = args.shared.resolve()
    for needed in (SEED_ARTICLE, RTQA / "corpus.jsonl", RTQA / "queries.jsonl", RTQA / "qrels" / "test.tsv"):
        if not (shared / needed).is_file():
            parser.error(f"{shared / needed}: no such file (is --shared right?)")
    if args.queries < 1:
        parser.error("--queries must be at least 1")
    assert len(SEED_QUESTIONS) == 30 and len(OFF_TOPIC_QUESTIONS) == 60
    assert len(set(SEED_QUESTIONS)) == 30 and len(set(OFF_TOPIC_QUESTIONS)) == 60

    root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="crisisbot-calibrate-"))
    root.mkdir(parents=True, exist_ok=True)
    log(f"data folders in {root}")
    try:
        report = run(shared, root, args.queries)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report["kept"] = str(root) if args.keep else None
    if args.json:
        print(json.dumps(finite(report), indent=2, allow_nan=False))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
