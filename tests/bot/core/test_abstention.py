"""The bot declines what its knowledge base does not cover, and answers what it does.

The relevance gate is fitted by benchmarks/quality/fit_gate.py on the seed questions and on
tests/data/off_topic_training.txt; the off-topic questions here (tests/data/off_topic_questions.txt)
are held out from the fit (docs/evaluation.md, "The relevance gate"). These tests keep the
measured rates from regressing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime.service import CrisisBot
from tests.questions import OFF_TOPIC_QUESTIONS as OFF_TOPIC
from tests.questions import SEED_QUESTIONS as SEED

def test_the_lists_are_as_documented() -> None:
    assert len(OFF_TOPIC) == 60 and len(set(OFF_TOPIC)) == 60
    assert len(SEED) == 30 and len(set(SEED)) == 30


def test_off_topic_questions_are_all_declined_on_the_seed_article(seeded_bot: CrisisBot) -> None:
    answered = [q for q in OFF_TOPIC if seeded_bot.ask(q).found]
    assert answered == []


def test_seed_questions_are_answered(seeded_bot: CrisisBot) -> None:
    declined = [q for q in SEED if not seeded_bot.ask(q).found]
    assert len(declined) <= 1, declined  # 29 of 30 measured; see docs/evaluation.md


def test_seed_questions_quote_the_article_verbatim(seeded_bot: CrisisBot) -> None:
    text = seeded_bot.store.document_text("turning-tides-2024-11")
    for question in SEED:
        for quote in seeded_bot.ask(question).quotes:
            assert text[quote.start : quote.end] == quote.text


@pytest.mark.slow
def test_off_topic_questions_are_declined_on_the_statements_corpus(tmp_path: Path, real_embedder: object) -> None:
    """The realistic case: 1,796 official statements about the war; at most 2 of 60 answered."""
    from bot.runtime.settings import load_settings
    from tests.conftest import shared_file

    bot = CrisisBot(load_settings(data_dir=tmp_path, load_builtin_knowledge=False), real_embedder)  # type: ignore[arg-type]
    statements = bot.read([shared_file("corpus/official-statements-2021-2022.jsonl")], "test").documents
    # A third of the corpus keeps the test under a minute and the rate representative.
    bot.ingest(statements[::3])
    answered = [q for q in OFF_TOPIC if bot.ask(q).found]
    assert len(answered) <= 2, answered


@pytest.fixture(scope="module")
def realtimeqa_bot(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> CrisisBot:
    """The whole realtimeqa-dev corpus (3,990 news passages of 2022-2026): every quiz question's
    evidence is in this knowledge base."""
    from bot.runtime.evaluation import load_dataset
    from bot.runtime.settings import load_settings
    from tests.conftest import shared_file

    dataset = load_dataset(shared_file("eval/realtimeqa-dev"))
    settings = load_settings(data_dir=tmp_path_factory.mktemp("realtimeqa"), load_builtin_knowledge=False)
    bot = CrisisBot(settings, real_embedder)  # type: ignore[arg-type]
    bot.ingest(dataset.documents)
    return bot


@pytest.mark.slow
def test_realtimeqa_questions_are_answered(realtimeqa_bot: CrisisBot) -> None:
    """>= 95% answered, each on the quiz's own date (every 7th of the 2,056 questions): 95.9%
    measured at 54ab3a6 (12 of 294 declined). Issue 19's place rule had brought it down to
    93.2%, until places were taken from a gazetteer and passages judged by their setting
    (docs/evaluation.md, "Answers")."""
    from bot.runtime.evaluation import load_dataset
    from tests.conftest import shared_file

    queries = load_dataset(shared_file("eval/realtimeqa-dev")).queries[::7]
    declined = [q.text for q in queries if not realtimeqa_bot.ask(q.text, asked_at=q.asked_at).found]
    assert len(declined) <= 0.05 * len(queries), (len(declined), len(queries), declined[:10])


@pytest.mark.slow
def test_off_topic_questions_on_general_news_are_mostly_declined(realtimeqa_bot: CrisisBot) -> None:
    """The worst case: general news covers sports and celebrities too, so some off-topic
    questions meet a related passage. docs/evaluation.md reports the measured rate; this keeps it."""
    answered = [q for q in OFF_TOPIC if realtimeqa_bot.ask(q).found]
    assert len(answered) <= 18, answered  # 17 measured (15 with the cosine threshold of 0.45)


def test_ukrainian_and_russian_questions_are_declined_until_the_gate_reads_them(seeded_bot: CrisisBot) -> None:
    """The gate's cosines are all-MiniLM-L6-v2's, English only: on the 1,796 statements it let
    through 81% of Ukrainian off-topic questions (benchmarks/results/crosslingual.md). So a
    question in another language is declined, and says why under --explain."""
    from tests.questions import read_questions

    ukrainian = read_questions("crosslingual/off_topic.uk.txt")[:10]
    answerable = "Скільки північнокорейських військових прибуло до Росії?"  # the seed article has it in English
    for question in [*ukrainian, answerable, "Сколько северокорейских военных прибыло в Россию?"]:
        answer = seeded_bot.ask(question)
        assert not answer.found, question
        assert answer.explanation.unread_language in ("uk", "ru")
        assert all(not c.accepted and "the gate reads English questions only" in c.reason
                   for c in answer.explanation.candidates)
    english = seeded_bot.ask("How many North Korean troops arrived in Russia?")
    assert english.found and "10,000" in " ".join(q.text for q in english.quotes)
