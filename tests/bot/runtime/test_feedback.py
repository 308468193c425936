"""Questions asked by chat users are logged with their answer; votes refer to that log."""

from __future__ import annotations

import re

import sqlite3
import threading

import psycopg
import pytest

from bot.core.actors import Actor
from bot.core.answer import Answer
from bot.core.feedback import GapQuestion, Totals, UnknownAnswer, Vote, WeekActivity
from bot.runtime.storage.feedback_postgres import PostgresFeedbackLog
from bot.core.rate_limit import RateLimited
from bot.runtime.service import CrisisBot
from knowledge.postgres.database import DatabaseUnavailable, PostgresDatabase
from tests.activity_backends import ActivityBackend, activity, break_at  # noqa: F401  (the fixture)
from tests.factories import document_info, quoted_answer


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


# -- the log itself, on either backend ---------------------------------------------------------


def _answer(question: str, found: bool = True) -> Answer:
    if not found:
        return Answer(question, best_passage_score=0.2)
    return quoted_answer(["Twelve ships left Odesa.", "Ports are insured."],
                         [document_info(id="d1"), document_info(id="d2")], question)


def _pin(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    monkeypatch.setattr("bot.core.feedback._now", lambda: when)


def test_answers_and_votes_are_logged(activity: ActivityBackend) -> None:
    log = activity.feedback()
    olena, mykola = Actor("telegram", "501", "Olena"), Actor("discord", "501")
    answer = _answer("How many ships left Odesa?")
    first_id = log.record_answer(olena, answer)
    second_id = log.record_answer(mykola, _answer("banana bread?", found=False))
    assert second_id > first_id > 0

    vote = log.vote(olena, first_id, 1)
    assert vote == Vote(first_id, "How many ships left Odesa?", ["d1", "d2"], 1, log.user_hash(olena))
    log.vote(olena, first_id, -1)  # changing one's mind replaces the vote
    log.vote(mykola, first_id, 1)
    votes = log.votes(first_id)
    assert sorted(v.value for v in votes) == [-1, 1] and len({v.user_hash for v in votes}) == 2
    # The stored person is 32 hex digits of a salted hash, never the id. ("501" may occur in
    # random hex by chance: about 1 run in 70 failed on `"501" not in`.)
    raw = {"501", olena.key, mykola.key}
    assert all(re.fullmatch(r"[0-9a-f]{32}", v.user_hash) and v.user_hash not in raw for v in votes)
    assert {v.user_hash for v in votes} == {log.user_hash(olena), log.user_hash(mykola)}
    assert log.user_hash(olena) != log.user_hash(mykola)
    assert log.votes(second_id) == [] and log.votes(10**9) == []

    with pytest.raises(UnknownAnswer, match="no longer on record"):
        log.vote(olena, 10**9, 1)
    with pytest.raises(UnknownAnswer):
        log.vote(olena, 10**30, 1)
    with pytest.raises(ValueError, match=r"a vote is \+1 or -1"):
        log.vote(olena, first_id, 2)
    assert log.totals() == Totals(questions=2, answered=1, votes_up=1, votes_down=1)


def test_votes_are_listed_oldest_first(activity: ActivityBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    log = activity.feedback()
    answer_id = log.record_answer(Actor("telegram", "1"), _answer("q?"))
    people = [Actor("telegram", str(n)) for n in range(4)]
    for n, person in enumerate(people):
        _pin(monkeypatch, f"2026-11-0{n + 1}T10:00:00+00:00")
        log.vote(person, answer_id, 1 if n % 2 else -1)
    assert [v.user_hash for v in log.votes(answer_id)] == [log.user_hash(p) for p in people]


def test_the_salt_survives_a_restart(activity: ActivityBackend) -> None:
    olena = Actor("telegram", "501", "Olena")
    first = activity.feedback()
    answer_id = first.record_answer(olena, _answer("q?"))
    before = first.user_hash(olena)
    first.close()
    again = activity.feedback()
    assert again.user_hash(olena) == before
    again.vote(olena, answer_id, 1)
    assert [v.user_hash for v in again.votes(answer_id)] == [before]


def test_gap_questions_are_declined_or_voted_down_newest_first(
    activity: ActivityBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = activity.feedback()
    people = [Actor("telegram", str(n)) for n in range(3)]
    _pin(monkeypatch, "2026-10-30T23:59:59+00:00")
    old = log.record_answer(people[0], _answer("old declined", found=False))
    _pin(monkeypatch, "2026-11-02T08:00:00+00:00")
    disliked = log.record_answer(people[0], _answer("disliked"))
    liked = log.record_answer(people[0], _answer("liked by most"))
    log.record_answer(people[0], _answer("same second, declined", found=False))
    _pin(monkeypatch, "2026-11-03T09:30:00+00:00")
    log.record_answer(people[1], _answer("newest declined", found=False))
    log.vote(people[1], disliked, -1)
    log.vote(people[1], liked, -1)
    log.vote(people[2], liked, 1)
    log.vote(people[0], liked, 1)

    rows = log.gap_questions()
    assert rows == [
        GapQuestion("newest declined", "2026-11-03T09:30:00+00:00", True, False),
        GapQuestion("same second, declined", "2026-11-02T08:00:00+00:00", True, False),
        GapQuestion("disliked", "2026-11-02T08:00:00+00:00", False, True),
        GapQuestion("old declined", "2026-10-30T23:59:59+00:00", True, False),
    ]
    assert old and log.gap_questions(limit=2) == rows[:2]
    assert log.gap_questions(since="2026-11-02") == rows[:3]
    assert log.gap_questions(since="2026-11") == rows[:3]
    assert log.gap_questions(since="2026") == rows
    assert log.gap_questions(since="") == rows
    assert log.gap_questions(since="2026-11-03") == rows[:1]
    assert log.gap_questions(since="2999-01-01") == []


def test_activity_by_week_is_keyed_by_monday(activity: ActivityBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    log = activity.feedback()
    member, other = Actor("discord", "9"), Actor("discord", "10")
    _pin(monkeypatch, "2026-10-26T00:00:00+00:00")  # a Monday, before `since`
    log.record_answer(member, _answer("too early"))
    _pin(monkeypatch, "2026-11-05T12:00:00+00:00")  # a Thursday
    found = log.record_answer(member, _answer("found"))
    log.record_answer(member, _answer("declined", found=False))
    _pin(monkeypatch, "2026-11-15T23:59:59+00:00")  # a Sunday: still the week of the 9th
    log.record_answer(other, _answer("late sunday"))
    _pin(monkeypatch, "2026-11-23T00:00:00+00:00")  # a Monday: a week of its own
    log.vote(member, found, -1)
    log.vote(other, found, 1)

    weeks = log.activity_by_week("2026-11-02")
    assert weeks == {
        "2026-11-02": WeekActivity(questions=2, answered=1),
        "2026-11-09": WeekActivity(questions=1, answered=1),
        "2026-11-23": WeekActivity(votes_up=1, votes_down=1),
    }
    assert list(weeks) == ["2026-11-02", "2026-11-09", "2026-11-23"]
    assert log.activity_by_week("2026-11-24") == {}
    assert log.totals() == Totals(questions=4, answered=3, votes_up=1, votes_down=1)


# -- PostgreSQL: one log shared by several processes -------------------------------------------


def test_two_processes_hash_alike_and_see_each_others_votes(postgres_url: str) -> None:
    first_db, second_db = PostgresDatabase(postgres_url), PostgresDatabase(postgres_url)
    try:
        first, second = PostgresFeedbackLog(first_db), PostgresFeedbackLog(second_db)
        olena = Actor("telegram", "501", "Olena")
        assert first.user_hash(olena) == second.user_hash(olena)
        answer_id = first.record_answer(olena, _answer("q?"))
        second.vote(olena, answer_id, 1)
        first.vote(olena, answer_id, -1)  # the same person in another process: replaces it
        second.vote(Actor("discord", "7"), answer_id, 1)
        assert sorted(v.value for v in first.votes(answer_id)) == [-1, 1]
        assert first.votes(answer_id) == second.votes(answer_id)
        assert first.totals() == second.totals() == Totals(1, 1, 1, 1)
        with psycopg.connect(postgres_url) as connection:
            (salts,) = connection.execute("SELECT count(*) FROM feedback_meta WHERE key = 'salt'").fetchone()  # type: ignore[misc]
        assert salts == 1
    finally:
        first_db.close()
        second_db.close()


def test_processes_starting_together_agree_on_the_salt(postgres_url: str) -> None:
    databases = [PostgresDatabase(postgres_url) for _ in range(4)]
    try:
        hashes: list[str] = []
        barrier = threading.Barrier(len(databases))

        def start(database: PostgresDatabase) -> None:
            barrier.wait()
            hashes.append(PostgresFeedbackLog(database).user_hash(Actor("telegram", "1")))

        threads = [threading.Thread(target=start, args=(d,)) for d in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(hashes) == 4 and len(set(hashes)) == 1
    finally:
        for database in databases:
            database.close()


def test_a_vote_whose_connection_drops_changes_nothing(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    database = PostgresDatabase(postgres_url, max_connections=1)
    try:
        log = PostgresFeedbackLog(database)
        olena = Actor("telegram", "501", "Olena")
        answer_id = log.record_answer(olena, _answer("q?"))
        log.vote(olena, answer_id, 1)
        with monkeypatch.context() as patch:
            break_at("INSERT INTO votes", patch)  # after the answer was checked and the vote written
            with pytest.raises(DatabaseUnavailable, match="repeating it is safe"):
                log.vote(olena, answer_id, -1)
        assert [v.value for v in log.votes(answer_id)] == [1]
        log.vote(olena, answer_id, -1)  # repeated: now it counts
        assert [v.value for v in log.votes(answer_id)] == [-1]
    finally:
        database.close()
