#!/usr/bin/env python
"""The labelled answer set and the everyday questions, asked of the real bot (issue 19).

Builds a knowledge base of the built-in seed article and ../shared/corpus/news-2022.jsonl
(397 Guardian and New York Times reports of 2022) with the real model, in a temporary folder
or in --keep DIR (reused when it already holds them: the build takes a few minutes), then
asks tests/data/answer_set.jsonl and tests/data/everyday_questions.jsonl and scores the
quoted text with `bot.runtime.answer_set`: answered, contains the gold, about the subject,
quoted about a wrong place, a rebutted claim quoted as fact, per kind; and the everyday
questions' points out of 16. Prints the tables and writes benchmarks/results/answer_set.md.

A follow-up pair is one conversation: when the bot has a `conversation` (follow-ups,
"tell me more", small talk), its messages go through it with one fresh conversation key per
conversation; otherwise (and with --plain) each message is asked on its own with
`CrisisBot.ask`, which is what the bot did before conversations existed.

    .venv/bin/python -m benchmarks.quality.answer_set [--keep DIR] [--plain] [--shared PATH]
        [--out benchmarks/results/answer_set.md]
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import PROJECT, add_shared_option, machine, make_log, revision

if TYPE_CHECKING:
    from bot.runtime.answer_set import EverydayReport, Report
    from bot.runtime.service import CrisisBot

log = make_log("answer-set")
NEWS = Path("corpus/news-2022.jsonl")
ANSWER_SET = PROJECT / "tests" / "data" / "answer_set.jsonl"
EVERYDAY = PROJECT / "tests" / "data" / "everyday_questions.jsonl"
RESULT = PROJECT / "benchmarks" / "results" / "answer_set.md"


def open_knowledge_base(data_dir: Path, news: Path) -> CrisisBot:
    """The bot over the seed article and the news, built in `data_dir` unless already there."""
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=data_dir))
    bot.open()  # seeds the built-in article into a new folder
    if bot.store.document_count() > 1:
        log(f"reusing the knowledge base in {data_dir} ({bot.store.document_count()} documents)")
        return bot
    documents = bot.read([news], "benchmark").documents
    started = time.perf_counter()
    report = bot.ingest(documents)
    log(f"imported {len(report.added)} documents, {report.passages} passages in "
        f"{time.perf_counter() - started:.0f} s")
    return bot


def make_ask_turns(bot: CrisisBot, plain: bool) -> Callable[[list[str]], Sequence[Any]]:
    """One conversation per call: through the bot's conversation when it has one, else each
    message asked on its own."""
    conversation = None if plain else getattr(bot, "conversation", None)
    if conversation is None:
        return lambda messages: [bot.ask(m) for m in messages]
    key_type = importlib.import_module("bot.core.conversation_memory").ConversationKey
    numbers = itertools.count(1)

    def ask_turns(messages: list[str]) -> list[Any]:
        key = key_type("benchmark", f"conversation-{next(numbers)}", "reader")
        return [conversation.reply(m, key=key) for m in messages]

    return ask_turns


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def tables(report: Report, everyday: EverydayReport, mode: str) -> str:
    total = report.total
    lines = [
        f"Answer set: {total.questions} questions ({mode}).\n",
        "| kind | questions | answered | contains gold | about right | wrong place | rebutted as fact |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, t in [*report.by_kind().items(), ("**all**", total)]:
        lines.append(f"| {kind} | {t.questions} | {percent(t.answered, t.questions)} "
                     f"| {percent(t.contains_gold, t.questions)} | {percent(t.about_right, t.with_subject)} "
                     f"| {t.wrong_place} | {t.rebutted_as_fact} |")
    lines += ["", f"Everyday questions: **{everyday.points} of {everyday.max_points}** points.\n",
              "| case | messages | points | quoted (first 160 characters) |", "|---|---|---:|---|"]
    for s in everyday.scores:
        quoted = "(help text)" if s.replied_help else (s.verdict.quoted[:160] if s.verdict else "") or "(declined)"
        lines.append(f"| {s.case.id} | {' → '.join(s.case.turns)} | {s.points}/{s.case.points} "
                     f"| {quoted.replace('|', '/')} |")
    return "\n".join(lines)


def failure_list(report: Report) -> str:
    lines = ["| id | question | why | quoted (first 200 characters) |", "|---|---|---|---|"]
    for v in report.failures():
        why = ", ".join(name for name, bad in (
            ("declined", not v.answered), ("no gold", v.answered and not v.contains_gold),
            ("not about " + "/".join(v.item.about), v.about_right is False),
            ("wrong place", v.wrong_place), ("rebutted as fact", v.rebutted_as_fact)) if bad)
        lines.append(f"| {v.item.id} | {v.item.question} | {why} | {v.quoted[:200].replace('|', '/')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_shared_option(parser)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the knowledge base in this folder")
    parser.add_argument("--plain", action="store_true", help="ask each message alone with CrisisBot.ask")
    parser.add_argument("--out", type=Path, default=RESULT, help="the Markdown report to write")
    args = parser.parse_args()

    from bot.runtime.answer_set import load_everyday, load_items, run_answer_set, run_everyday

    items, cases = load_items(ANSWER_SET), load_everyday(EVERYDAY)
    with tempfile.TemporaryDirectory(prefix="crisisbot-answer-set-") as tmp:
        bot = open_knowledge_base(args.keep or Path(tmp) / "data", Path(args.shared) / NEWS)
        try:
            conversational = not args.plain and getattr(bot, "conversation", None) is not None
            mode = ("follow-ups asked in one conversation through `CrisisBot.conversation`" if conversational
                    else "every message asked on its own with `CrisisBot.ask`: no conversation memory")
            ask_turns = make_ask_turns(bot, args.plain)
            started = time.perf_counter()
            report = run_answer_set(items, ask_turns)
            everyday = run_everyday(cases, ask_turns)
            log(f"asked {len(items)} + {sum(len(c.turns) for c in cases)} messages in "
                f"{time.perf_counter() - started:.0f} s")
        finally:
            bot.close()

    body = tables(report, everyday, mode)
    print(body)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# Answer set (issue 19)\n\n"
        "Written by `make bench-answers` (`python -m benchmarks.quality.answer_set`): the seed article and "
        "../shared/corpus/news-2022.jsonl imported with the real model, every question of "
        "tests/data/answer_set.jsonl and tests/data/everyday_questions.jsonl asked, the quoted text "
        "scored by `bot.runtime.answer_set` (string matching after folding quotes, dashes, spaces and case). "
        "\"contains gold\" counts declined questions as misses; \"about right\" is over answered questions "
        "that name a subject.\n\n"
        f"- project {revision()}; {machine()}\n\n{body}\n\n"
        f"## Questions not answered correctly\n\n{failure_list(report)}\n",
        encoding="utf-8")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
