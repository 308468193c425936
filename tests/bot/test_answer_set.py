"""The floors of issue 19 on the labelled answer set (tests/data/answer_set.jsonl), asked of a
bot over the seed article and ../shared/corpus/news-2022.jsonl with the real model.

No quoted span may be about the wrong place or pass a rebutted claim off as fact, and what is
quoted must contain the gold answer at least as often as measured (issue 19's aim, 85%, is
not reached yet). `make bench-answers`
prints the same figures per kind with every miss (benchmarks/results/answer_set.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from bot.core.conversation import Reply
from bot.core.conversation_memory import ConversationKey
from bot.runtime.answer_set import Report, load_items, run_answer_set
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from tests.conftest import PROJECT, shared_file

ANSWER_SET = PROJECT / "tests" / "data" / "answer_set.jsonl"


def ask_turns_of(bot: CrisisBot) -> Callable[[list[str]], Sequence[Reply]]:
    """One conversation per call, through the bot's conversation memory: a follow-up pair's
    second message leans on the first, as it does in a private chat."""
    counter = iter(range(1_000_000))

    def ask_turns(messages: list[str]) -> Sequence[Reply]:
        key = ConversationKey("test", f"conversation-{next(counter)}", "reader")
        return [bot.conversation.reply(m, key=key) for m in messages]

    return ask_turns


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder) -> Report:
    """The whole set asked once of the seed article + news-2022 (about 3,200 passages)."""
    bot = CrisisBot(load_settings(data_dir=tmp_path_factory.mktemp("answer-set")), real_embedder)
    bot.open()  # the built-in seed article
    bot.ingest(bot.read([shared_file("corpus/news-2022.jsonl")], "test").documents)
    try:
        return run_answer_set(load_items(ANSWER_SET), ask_turns_of(bot))
    finally:
        bot.close()


def misses(report: Report, what: str) -> list[tuple[str, str]]:
    return [(v.item.id, v.quoted[:160]) for v in report.verdicts if getattr(v, what)]


@pytest.mark.slow
def test_the_quoted_text_contains_the_gold_as_often_as_measured(report: Report) -> None:
    """73.9% measured at 238a6c5 (71.6% at 54ab3a6, 67.9% at 2e10a9c; docs/evaluation.md,
    "Answer set"); issue 19 asks for 85%, not reached yet: this floor keeps what was gained
    from slipping back."""
    total = report.total
    failed = [(v.item.id, v.quoted[:120]) for v in report.verdicts if not v.contains_gold]
    assert total.gold_rate >= 0.72, (f"{total.contains_gold}/{total.questions}", failed[:20])


@pytest.mark.slow
def test_no_quoted_span_is_about_the_wrong_place(report: Report) -> None:
    assert misses(report, "wrong_place") == []


@pytest.mark.slow
def test_no_rebutted_claim_is_quoted_as_fact(report: Report) -> None:
    assert misses(report, "rebutted_as_fact") == []
