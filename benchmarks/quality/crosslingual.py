#!/usr/bin/env python
"""The cross-lingual dev set (issue 20): the same questions in English, Ukrainian and Russian.

tests/data/crosslingual/realtimeqa-ukraine-russia.jsonl holds the 112 ukraine-russia
questions of ../shared/eval/realtimeqa-dev written by hand in Ukrainian and Russian. This
assembles a BEIR folder (the shared corpus, every question three times with
`metadata.language`, the shared answers and qrels under each language's id), runs
`crisisbot eval --answers` on it (nDCG@10, answered, quote contains the answer, per
language), then asks the off-topic questions of each language (tests/data/off_topic_questions.txt
and tests/data/crosslingual/off_topic.{uk,ru}.txt) of the two knowledge bases the abstention
tests use: the seed article alone, and the 1,796 official statements about the war
(realtimeqa-dev is general news: sport and cooking are in it, so it cannot say what is off
topic). Writes benchmarks/results/crosslingual.md.

    .venv/bin/python -m benchmarks.quality.crosslingual [--keep DIR] [--keep-statements DIR] [--shared PATH]

--keep reuses a knowledge base of realtimeqa-dev (the one `crisisbot eval ... --keep DIR`
builds: about five minutes to build, one to reuse); --keep-statements one of the statements.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import PROJECT, REALTIMEQA, STATEMENTS, add_shared_option, machine, make_log, revision

log = make_log("crosslingual")
DEV_SET = PROJECT / "tests" / "data" / "crosslingual" / "realtimeqa-ukraine-russia.jsonl"
OFF_TOPIC = {
    "en": PROJECT / "tests" / "data" / "off_topic_questions.txt",
    "uk": PROJECT / "tests" / "data" / "crosslingual" / "off_topic.uk.txt",
    "ru": PROJECT / "tests" / "data" / "crosslingual" / "off_topic.ru.txt",
}
LANGUAGES = ("en", "uk", "ru")
RESULT = PROJECT / "benchmarks" / "results" / "crosslingual.md"


def _lines(path: Path) -> Iterator[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            yield line.strip()


def query_id(original: str, language: str) -> str:
    return original if language == "en" else f"{original}-{language}"


def build_dataset(shared: Path, folder: Path) -> Path:
    """A BEIR folder: the shared corpus (linked), each dev-set question in three languages."""
    source = shared / REALTIMEQA
    originals = {}
    for line in (source / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        originals[record["_id"]] = record
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").symlink_to((source / "corpus.jsonl").resolve())
    qrels = [line.split("\t") for line in (source / "qrels" / "test.tsv").read_text().splitlines()[1:] if line]
    queries, judged = [], []
    for line in DEV_SET.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        original = originals[item["_id"]]
        for language in LANGUAGES:
            new_id = query_id(item["_id"], language)
            metadata = {**original.get("metadata", {}), "language": language}
            queries.append({"_id": new_id, "text": item[language], "metadata": metadata})
            judged += [(new_id, doc, score) for qid, doc, score in qrels if qid == item["_id"]]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries),
                                          encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in judged), encoding="utf-8")
    return folder


def declined_off_topic(data_dir: Path, statements: Path | None = None) -> dict[str, tuple[int, int]]:
    """(declined, asked) per language, asked of the seed article in `data_dir`, or of the
    official statements (imported into `data_dir` unless already there)."""
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=data_dir, load_builtin_knowledge=statements is None))
    try:
        bot.open()
        if statements is not None and bot.store.document_count() == 0:
            bot.ingest(bot.read([statements], "benchmark").documents)
        counts = {}
        for language, path in OFF_TOPIC.items():
            questions = list(_lines(path))
            declined = sum(1 for q in questions if not bot.ask(q).found)
            counts[language] = (declined, len(questions))
        return counts
    finally:
        bot.close()


def report(result: dict[str, Any], off_topic: dict[str, dict[str, tuple[int, int]]]) -> str:
    languages = result["languages"]
    english = languages["en"]
    lines = ["| asked in | questions | nDCG@10 | x English | answered | x English | contains answer | x English |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for language in LANGUAGES:
        m = languages[language]
        cells = []
        for name in ("nDCG@10", "answered", "contains answer"):
            ratio = m[name] / english[name] if english[name] else 0.0
            cells += [f"{m[name]:.3f}" if name == "nDCG@10" else f"{100 * m[name]:.1f}%", f"{ratio:.2f}"]
        lines.append(f"| {language} | {m['queries']} | " + " | ".join(cells) + " |")
    names = list(off_topic)
    lines += ["", "| off-topic asked in | questions | " + " | ".join(f"declined: {n}" for n in names) + " |",
              "|---|---:|" + "---:|" * len(names)]
    for language in LANGUAGES:
        asked = off_topic[names[0]][language][1]
        cells = [f"{100 * off_topic[n][language][0] / asked:.1f}%" for n in names]
        lines.append(f"| {language} | {asked} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _multilingual() -> bool:
    from bot.runtime.settings import load_settings

    return bool(load_settings().multilingual_retrieval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_shared_option(parser)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the realtimeqa-dev knowledge base here")
    parser.add_argument("--keep-statements", type=Path, help="build (or reuse) the statements' knowledge base here")
    parser.add_argument("--out", type=Path, default=RESULT, help="the Markdown report to write")
    args = parser.parse_args()

    from bot.runtime.evaluation import evaluate

    with tempfile.TemporaryDirectory(prefix="crisisbot-crosslingual-") as tmp:
        dataset = build_dataset(Path(args.shared), Path(tmp) / "realtimeqa-crosslingual")
        data_dir = args.keep or Path(tmp) / "data"
        log("evaluating (retrieval and answers) per language")
        result = evaluate(dataset, keep=data_dir, answers=True)
        log("asking the off-topic questions of the seed article and of the official statements")
        off_topic = {"seed article": declined_off_topic(Path(tmp) / "seed"),
                     "official statements": declined_off_topic(args.keep_statements or Path(tmp) / "statements",
                                                               Path(args.shared) / STATEMENTS)}
    body = report(result, off_topic)
    print(body)
    args.out.write_text(
        "# Cross-lingual dev set (issue 20)\n\n"
        "Written by `python -m benchmarks.quality.crosslingual`: the 112 ukraine-russia questions of "
        "realtimeqa-dev, asked in English and in hand-written Ukrainian and Russian "
        "(tests/data/crosslingual/), over the realtimeqa-dev knowledge base (`crisisbot eval --answers`, "
        "dated); then the off-topic questions of each language asked of the seed article and of the "
        "1,796 official statements.\n\n"
        f"- project {revision()}; {machine()}\n"
        f"- CRISISBOT_MULTILINGUAL_RETRIEVAL={'true' if _multilingual() else 'false'}\n\n{body}\n", encoding="utf-8")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
