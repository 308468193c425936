#!/usr/bin/env python
"""Core benchmark: cold start, ingest throughput and query latency of crisisbot.

One run measures, on this machine:

a. cold start: `crisisbot ask "QUESTION"` as a fresh process over a data folder that already
   holds the seed knowledge base (prepared by one untimed `crisisbot ingest` run);
b. ingest: `official-statements-2021-2022.jsonl` read with `CrisisBot.read` and written with
   `CrisisBot.ingest` into an empty data folder (model load and seeding timed apart);
c. query latency: `CrisisBot.ask` in-process over N distinct realtimeqa-dev questions on the
   knowledge base of (b), after 3 untimed warm-up questions; then a second pass over the same
   questions through the public parts (`bot.retriever`, `bot.composer`) to split the time into
   embedding the question, searching, and composing the answer.

Run from the project root:

    .venv/bin/python -m benchmarks.speed.core [--shared PATH] [--keep DIR] [--questions N] [--json]

Shared data is read in place from `../shared` (or --shared); nothing is copied into the
project. Data folders go to a temporary folder that is removed afterwards, unless --keep DIR.
Progress goes to stderr; the table (or JSON with --json) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import (REALTIMEQA_QUERIES, SEED_ARTICLE, STATEMENTS, CpuWatch, add_shared_option,
                               data_folders, finite, ingest_progress, make_log, percentile, revision,
                               unique_questions)

if TYPE_CHECKING:
    from bot.runtime.service import CrisisBot
    from knowledge.documents import Document

COLD_QUESTION = "How many North Korean troops arrived in Russia?"
COLD_RUNS = 3
WARM_UP = [  # not among the realtimeqa-dev questions; not counted
    "What did Zelensky say about Ukraine becoming an EU candidate?",
    "How many North Korean troops arrived in Russia?",
    "What did Putin say about NATO expansion?",
]
ADDED_BY = "benchmark"


log = make_log("core")


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
        "max_ms": max(ms) if ms else float("nan"),
    }


# -- a. cold start --------------------------------------------------------------------------


def noise(watch: dict[str, float]) -> str:
    share = watch["other_cpu_s"] / (watch["wall_s"] * watch["cpus"]) if watch["wall_s"] else 0.0
    return (f"other processes used {watch['other_cpu_s']:.1f} CPU-s of {watch['wall_s'] * watch['cpus']:.0f} "
            f"available ({100 * share:.0f}%)")


def crisisbot_command() -> Path:
    script = Path(sys.executable).parent / "crisisbot"
    if script.is_file():
        return script
    found = shutil.which("crisisbot")
    if not found:
        raise SystemExit("benchmarks.speed.core: the crisisbot console script was not found (run make install)")
    return Path(found)


def run_cli(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=os.environ.copy(), check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"benchmarks.speed.core: {' '.join(args)} exited with {done.returncode}:\n{done.stderr.strip()}"
        )
    return seconds, done


def cold_start(data_dir: Path, seed_article: Path, question: str) -> dict[str, Any]:
    from bot.core.answer import NO_ANSWER

    cli = str(crisisbot_command())
    log(f"cold start: preparing {data_dir} with one ingest run (not timed)")
    prep_seconds, prep = run_cli(
        [cli, "--data-dir", str(data_dir), "ingest", str(seed_article), "--added-by", ADDED_BY]
    )
    log(f"cold start: prepared in {prep_seconds:.2f} s: {prep.stdout.strip()}")
    runs, answered = [], []
    for number in range(1, COLD_RUNS + 1):
        seconds, done = run_cli([cli, "--data-dir", str(data_dir), "ask", question])
        runs.append(seconds)
        answered.append(NO_ANSWER not in done.stdout)
        log(f"cold start: run {number}/{COLD_RUNS}: {seconds:.2f} s")
    imports = []
    for number in range(1, COLD_RUNS + 1):
        seconds, _ = run_cli([sys.executable, "-c", "import sentence_transformers"])
        imports.append(seconds)
        log(f"cold start: 'import sentence_transformers' alone, run {number}/{COLD_RUNS}: {seconds:.2f} s")
    return {
        "import_sentence_transformers_s": imports,
        "import_sentence_transformers_median_s": statistics.median(imports),
        "command": f'crisisbot --data-dir DIR ask "{question}"',
        "runs_s": runs,
        "median_s": statistics.median(runs),
        "first_s": runs[0],
        "answered": all(answered),
        "prepare_s": prep_seconds,
        "prepare_output": prep.stdout.strip(),
    }


# -- b. ingest ------------------------------------------------------------------------------


def ingest_corpus(data_dir: Path, corpus: Path) -> tuple[CrisisBot, dict[str, Any]]:
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"benchmarks.speed.core: {data_dir} is not empty; the ingest must start from nothing")
    # No background sentence warming: the query-latency step must not run beside it.
    bot = CrisisBot(load_settings(data_dir=data_dir, warm_answer_sentences=False))

    started = time.perf_counter()
    documents = bot.read([corpus], ADDED_BY).documents
    read_s = time.perf_counter() - started
    log(f"ingest: read and validated {len(documents):,} documents in {read_s:.2f} s")
    return bot, {"corpus": str(corpus), "read_s": read_s, **ingest_documents(bot, documents)}


def ingest_documents(bot: CrisisBot, documents: list[Document]) -> dict[str, Any]:
    """Open the bot's data folder (loading the model, untimed), then time `CrisisBot.ingest`.

    Also used by benchmarks.speed.scale, once per embedding backend."""
    started = time.perf_counter()
    bot.open()  # seeds the built-in article (loading the model) when that setting is on
    bot.embedder.embed(["load the model"])  # in case it is off: keep model loading untimed
    open_s = time.perf_counter() - started
    seeded = bot.store.document_count()
    log(f"ingest: model loaded and data folder opened in {open_s:.2f} s ({seeded} seed document(s))")

    started = time.perf_counter()
    report = bot.ingest(documents, ingest_progress(log, "ingest"))
    ingest_s = time.perf_counter() - started
    log(f"ingest: {len(report.added):,} documents, {report.passages:,} passages in {ingest_s:.1f} s")
    characters = sum(len(d.text) for d in documents)
    return {
        "documents": len(documents),
        "documents_added": len(report.added),
        "documents_unchanged": len(report.unchanged),
        "documents_replaced": len(report.replaced),
        "characters": characters,
        "passages": report.passages,
        "open_s": open_s,
        "seed_documents": seeded,
        "ingest_s": ingest_s,
        "passages_per_s": report.passages / ingest_s,
        "documents_per_s": len(documents) / ingest_s,
    }


# -- c. query latency -----------------------------------------------------------------------


def query_latency(bot: CrisisBot, tagged: list[tuple[str, str | None]]) -> dict[str, Any]:
    from bot.core.questions import clean_question

    questions = [text for text, _ in tagged]
    log(f"queries: {len(WARM_UP)} warm-up questions (not counted)")
    for question in WARM_UP:
        bot.ask(question)

    log(f"queries: pass 1, CrisisBot.ask x {len(questions)}")
    ask_s: list[float] = []
    answers = []
    for question in questions:
        started = time.perf_counter()
        answers.append(bot.ask(question))
        ask_s.append(time.perf_counter() - started)
    answered = sum(a.found for a in answers)

    log("queries: pass 2, the same questions split into embed / search / compose")
    embed_s, search_s, compose_s, compose_answered_s = [], [], [], []
    mismatches = 0
    k = bot.settings.retrieve_k
    for question, first in zip(questions, answers):
        text = clean_question(question, bot.settings.max_question_chars)
        t0 = time.perf_counter()
        vector = bot.retriever.embed_query(text)
        t1 = time.perf_counter()
        hits = bot.retriever.search_vector(vector, k, text)
        t2 = time.perf_counter()
        answer = bot.composer.compose(text, vector, hits)
        t3 = time.perf_counter()
        embed_s.append(t1 - t0)
        search_s.append(t2 - t1)
        compose_s.append(t3 - t2)
        if answer.found:
            compose_answered_s.append(t3 - t2)
        if answer.found != first.found or abs(answer.best_passage_score - first.best_passage_score) > 1e-4:
            mismatches += 1
    retrieval_s = [e + s for e, s in zip(embed_s, search_s)]
    by_topic: dict[str, dict[str, int]] = {}
    for (_, topic), answer in zip(tagged, answers):
        counts = by_topic.setdefault(topic or "untagged", {"questions": 0, "answered": 0})
        counts["questions"] += 1
        counts["answered"] += answer.found
    return {
        "answered_by_topic": by_topic,
        "questions": len(questions),
        "source": str(REALTIMEQA_QUERIES),
        "warm_up": len(WARM_UP),
        "ask": summary_ms(ask_s),
        "embed": summary_ms(embed_s),
        "search": summary_ms(search_s),
        "retrieval": summary_ms(retrieval_s),
        "compose": summary_ms(compose_s),
        "compose_answered": summary_ms(compose_answered_s),
        "answered": answered,
        "declined": len(questions) - answered,
        "pass_mismatches": mismatches,
        "kb_documents": bot.store.document_count(),
        "kb_passages": int(len(bot.store.passage_ids())),
    }


# -- output ---------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    import faiss
    import torch

    return {
        "revision": revision(),
        "date": datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "faiss": faiss.__version__,
        "load_average_start": os.getloadavg(),
    }


def render(result: dict[str, Any]) -> str:
    env, settings = result["environment"], result["settings"]
    cold, ingest, query = result["cold_start"], result["ingest"], result["queries"]
    lines = [
        f"crisisbot core benchmark, {env['date']}: {env['cpus']} CPUs, python {env['python']}, "
        f"torch {env['torch']} ({env['torch_threads']} threads), faiss {env['faiss']}; "
        f"crisisbot {env['revision']}",
        "load average (1/5/15 min) at start "
        + " ".join(f"{x:.2f}" for x in env["load_average_start"])
        + ", at end " + " ".join(f"{x:.2f}" for x in env.get("load_average_end", [])),
        f"settings: model {settings['model_name']}, gate_threshold {settings['gate_threshold']:.2f}, "
        f"retrieve_k {settings['retrieve_k']}",
        "",
        "a. cold start, fresh process over the seed knowledge base",
        f"   {cold['command']}",
        f"   {'runs (s)':<34}" + "  ".join(f"{s:.2f}" for s in cold["runs_s"]),
        f"   {'median of ' + str(len(cold['runs_s'])) + ' (s)':<34}{cold['median_s']:.2f}",
        f"   {'first run (s)':<34}{cold['first_s']:.2f}",
        f"   {'answered':<34}{'yes' if cold['answered'] else 'NO'}",
        '   for reference, python -c "import sentence_transformers" alone (s): '
        + "  ".join(f"{x:.2f}" for x in cold["import_sentence_transformers_s"])
        + f"  (median {cold['import_sentence_transformers_median_s']:.2f})",
        f"   (prepared by one untimed ingest run, {cold['prepare_s']:.2f} s: {cold['prepare_output']})",
        f"   ({noise(cold['cpu_watch'])})",
        "",
        f"b. ingest {Path(ingest['corpus']).name} into an empty data folder (CrisisBot.ingest)",
        f"   {'documents':<34}{ingest['documents']:,} ({ingest['characters']:,} characters)",
        f"   {'added / unchanged / replaced':<34}{ingest['documents_added']:,} / "
        f"{ingest['documents_unchanged']:,} / {ingest['documents_replaced']:,}",
        f"   {'passages':<34}{ingest['passages']:,}",
        f"   {'read + validate (s)':<34}{ingest['read_s']:.2f}",
        f"   {'model load + open + seed (s)':<34}{ingest['open_s']:.2f}   (not in the ingest time)",
        f"   {'ingest (s)':<34}{ingest['ingest_s']:.1f}",
        f"   {'passages/s':<34}{ingest['passages_per_s']:.1f}",
        f"   {'documents/s':<34}{ingest['documents_per_s']:.2f}",
        f"   ({noise(ingest['cpu_watch'])})",
        "",
        f"c. query latency, in-process, {query['questions']} distinct realtimeqa-dev questions "
        f"({query['warm_up']} warm-up not counted)",
        f"   knowledge base: {query['kb_documents']:,} documents, {query['kb_passages']:,} passages",
        f"   {'(ms)':<34}{'p50':>8}{'p95':>8}{'mean':>8}{'max':>8}{'n':>6}",
    ]
    rows = [
        ("CrisisBot.ask (pass 1)", query["ask"]),
        ("pass 2: embed question", query["embed"]),
        ("pass 2: search (FAISS + SQLite)", query["search"]),
        ("pass 2: retrieval = embed+search", query["retrieval"]),
        ("pass 2: compose, all", query["compose"]),
        ("pass 2: compose, answered only", query["compose_answered"]),
    ]
    for label, s in rows:
        lines.append(
            f"   {label:<34}{s['p50_ms']:>8.1f}{s['p95_ms']:>8.1f}{s['mean_ms']:>8.1f}"
            f"{s['max_ms']:>8.1f}{s['n']:>6}"
        )
    n = query["questions"]
    lines += [
        f"   {'answered':<34}{query['answered']}/{n} ({100 * query['answered'] / n:.1f}%)",
        f"   {'declined':<34}{query['declined']}/{n} ({100 * query['declined'] / n:.1f}%)",
    ]
    lines.append("   answered by realtimeqa topic: " + ", ".join(
        f"{topic} {c['answered']}/{c['questions']}" for topic, c in sorted(query["answered_by_topic"].items())
    ))
    lines.append(f"   ({noise(query['cpu_watch'])})")
    if query["pass_mismatches"]:
        lines.append(f"   note: {query['pass_mismatches']} questions differed between pass 1 and 2")
    if result.get("kept"):
        lines += ["", f"data folders kept in {result['kept']}"]
    return "\n".join(lines)


def measure(shared: Path, root: Path, count: int) -> dict[str, Any]:
    """The three phases in order, each with the CPU other processes used beside it."""
    bot = None
    try:
        result: dict[str, Any] = {"environment": environment()}
        watch = CpuWatch()
        result["cold_start"] = cold_start(root / "seed-kb", shared / SEED_ARTICLE, COLD_QUESTION)
        result["cold_start"]["cpu_watch"] = watch.stop()
        watch = CpuWatch()
        bot, result["ingest"] = ingest_corpus(root / "statements-kb", shared / STATEMENTS)
        result["ingest"]["cpu_watch"] = watch.stop()
        s = bot.settings
        result["settings"] = {"model_name": s.model_name, "gate_threshold": s.gate_threshold,
                              "retrieve_k": s.retrieve_k}
        questions = unique_questions(shared / REALTIMEQA_QUERIES, count)
        if len(questions) < count:
            log(f"queries: only {len(questions)} distinct questions in {shared / REALTIMEQA_QUERIES}")
        watch = CpuWatch()
        result["queries"] = query_latency(bot, questions)
        result["queries"]["cpu_watch"] = watch.stop()
        result["environment"]["load_average_end"] = os.getloadavg()
        return result
    finally:
        if bot is not None:
            bot.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_shared_option(parser)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="create the data folders in DIR and keep them (must not hold them yet)")
    parser.add_argument("--questions", type=int, default=200, help="distinct questions for (c)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)

    shared = args.shared.resolve()
    for needed in (STATEMENTS, SEED_ARTICLE, REALTIMEQA_QUERIES):
        if not (shared / needed).is_file():
            parser.error(f"{shared / needed}: no such file (is --shared right?)")
    if args.questions < 1:
        parser.error("--questions must be at least 1")

    if args.keep:
        for folder in (args.keep.resolve() / "seed-kb", args.keep.resolve() / "statements-kb"):
            if folder.exists() and any(folder.iterdir()):
                parser.error(f"{folder} already exists and is not empty")
    with data_folders(args.keep, "crisisbot-bench-") as root:
        log(f"data folders in {root}")
        result = measure(shared, root, args.questions)
        result["kept"] = str(root) if args.keep else None
    print(json.dumps(finite(result), indent=2, allow_nan=False) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
