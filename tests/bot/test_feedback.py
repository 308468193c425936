"""Questions asked by chat users are logged with their answer; votes refer to that log."""

from __future__ import annotations

import sqlite3

import pytest

from bot.feedback import UnknownAnswer
from bot.rate_limit import RateLimited
from bot.service import CrisisBot


def test_logged_answer_and_votes(seeded_bot: CrisisBot) -> None:
    olena = seeded_bot.actor("telegram", 501, "Olena")
    answer = seeded_bot.ask("How many North Korean troops arrived in Russia?", olena)
    assert answer.id is not None
    first = seeded_bot.vote(olena, answer.id, 1)
    assert first.question == answer.question
    assert first.document_ids == [s.document.id for s in answer.sources]
    seeded_bot.vote(olena, answer.id, -1)  # changing one's mind replaces the vote
    other = seeded_bot.actor("discord", 501)
    seeded_bot.vote(other, answer.id, 1)
    votes = seeded_bot.feedback.votes(answer.id)
    assert sorted(v.value for v in votes) == [-1, 1]
    assert len({v.user_hash for v in votes}) == 2
    assert all("501" not in v.user_hash for v in votes)  # only a salted hash is kept

    with sqlite3.connect(seeded_bot.settings.database_path) as db:
        stored = db.execute("SELECT user_hash, question FROM asked WHERE id = ?", (answer.id,)).fetchone()
    assert stored[1] == answer.question and stored[0] == first.user_hash


def test_vote_for_an_unknown_answer(seeded_bot: CrisisBot) -> None:
    with pytest.raises(UnknownAnswer):
        seeded_bot.vote(seeded_bot.actor("telegram", 7), 10**9, 1)


def test_declined_questions_are_logged_too(seeded_bot: CrisisBot) -> None:
    answer = seeded_bot.ask("What is a good banana bread recipe?", seeded_bot.actor("telegram", 8))
    assert not answer.found and answer.id is not None


def test_per_user_limit_applies_to_chat_users_only(seeded_bot: CrisisBot) -> None:
    limit = seeded_bot.settings.questions_per_minute
    flooder = seeded_bot.actor("telegram", 666)
    for _ in range(limit):
        seeded_bot.ask("What did Macron say?", flooder)
    with pytest.raises(RateLimited, match="Please wait"):
        seeded_bot.ask("What did Macron say?", flooder)
    seeded_bot.ask("What did Macron say?")  # the terminal is not limited
