"""Fuzzing the question path: any string a person sends gives an answer or a decline, or one of
our own errors (empty, too long, rate-limited), never a traceback, in time and memory.

The knowledge base is small and real (SQLite, FAISS, BM25) with the fast hashing embedder, as in
tests/bot/conftest.py; questions mix its own words (so some are answered) with odd text. Every
answer found must quote its passages word for word, and must render on both platforms.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from bot.adapters.discord.formatting import answer_messages as discord_messages
from bot.adapters.telegram.formatting import MESSAGE_LIMIT, visible_length
from bot.adapters.telegram.formatting import answer_messages as telegram_messages
from bot.core.answer import Answer
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from knowledge.documents import Document
from knowledge.errors import CrisisbotError
from tests.fakes import HashingEmbedder
from tests.fuzzing import Bounds, assert_one_error, bounded
from tests.knowledge import strategies as fuzz
from tests.telegram_html import parse_html

TEXTS = {
    "corridor": "The ministry said the grain corridor would stay open through the winter. Ports in "
                "Odesa are insured again, and 4 million tonnes left in November.",
    "power": "Power cuts affected 4 million people after the strike on the grid. Repairs in Kyiv "
             "take weeks, the operator said. Dr. Smith of the U.S. team visited No. 3 station.",
    "troops": "North Korean troops arrived in Russia's Kursk region, according to officials. "
              "About 10,000 soldiers were reported by the ministry on 2024-11-05.",
}
VOCABULARY = sorted({word.strip(".,") for text in TEXTS.values() for word in text.split()})


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrisisBot]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("questions-fuzz"), load_builtin_knowledge=False,
                             questions_per_minute=1000)
    service = CrisisBot(settings, HashingEmbedder(dimension=384))
    service.open()
    service.ingest([Document(id=key, title=key.title(), text=text, url=f"https://example.org/{key}",
                             published=["2024-11", "2024-11-20", None][n]) for n, (key, text) in enumerate(TEXTS.items())])
    yield service
    service.close()


questions = st.one_of(
    st.lists(st.one_of(st.sampled_from(VOCABULARY), fuzz.piece), max_size=25).map(" ".join),
    st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=12).map(lambda w: " ".join(w) + "?"),
    st.text(max_size=200),
    st.text(min_size=990, max_size=1100),  # around the length limit
    st.sampled_from(["", " ", "\x00", "?", "latest news", "what happened this week?", "\u202e?", "*" * 1001]),
)


def check_answer(bot: CrisisBot, answer: Answer) -> None:
    """Quotes are exact slices of the stored documents; both platforms can send the answer."""
    for quote in answer.quotes:
        text = bot.store.document_text(answer.source(quote.source).document.id)
        assert text[quote.start:quote.end] == quote.text
    for message in telegram_messages(answer):
        assert visible_length(message) <= MESSAGE_LIMIT
        parse_html(message)
    assert discord_messages(answer)


@given(questions, st.booleans(), st.integers(1, 10**9))
def test_any_question_gets_an_answer_a_decline_or_our_own_error(
    bot: CrisisBot, question: str, as_member: bool, user: int
) -> None:
    actor = bot.actor("telegram", user, "fuzz") if as_member else None
    outcome = bounded(lambda: bot.questions.ask(question, actor), Bounds(seconds=10, megabytes=128))
    assert_one_error(outcome, CrisisbotError)
    if isinstance(outcome, Answer):
        event("answered" if outcome.found else "declined")
        check_answer(bot, outcome)
    else:
        event(f"refused: {type(outcome).__name__}")
