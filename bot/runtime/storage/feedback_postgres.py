"""The feedback log (questions, answers, votes) in the shared PostgreSQL database.

The same log as `bot.runtime.storage.feedback_sqlite.FeedbackLog` keeps in the SQLite file, for several bot processes
at once: the salt lives in the database (the first process to start makes it, every other one
reads it), so a person hashes the same in each process and their vote replaces itself wherever
they cast it. The tables come from migration 0002; times are `timestamptz` there and ISO 8601
UTC text (seconds) here, weeks are keyed by their Monday (UTC).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core import feedback
from bot.core.actors import Actor
from bot.core.answer import Answer
from bot.core.feedback import (
    UNKNOWN_ANSWER,
    GapQuestion,
    Totals,
    UnknownAnswer,
    Vote,
    WeekActivity,
    answer_ids,
    check_vote,
    hash_user,
    merge_weeks,
    storable_id,
)
from knowledge.postgres.times import since_instant, utc_instant, utc_text

if TYPE_CHECKING:
    import psycopg

    from knowledge.postgres.database import PostgresDatabase


def _now() -> datetime:
    # Through the module, so a test that pins `bot.core.feedback._now` pins both backends.
    return utc_instant(feedback._now())


def _from(column: str, since: str | None) -> tuple[str, tuple[datetime, ...]]:
    """The WHERE clause (and its parameter) keeping times from `since` on; none without one."""
    first = since_instant(since)
    return ("", ()) if first is None else (f"WHERE {column} >= %s", (first,))


class PostgresFeedbackLog:
    """Questions, answers and votes in the shared database (the caller owns the database)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database
        self._salt = self._load_salt()

    def _load_salt(self) -> str:
        candidate = secrets.token_hex(16)

        def work(connection: psycopg.Connection) -> str:
            connection.execute(
                "INSERT INTO feedback_meta (key, value) VALUES ('salt', %s) ON CONFLICT (key) DO NOTHING",
                (candidate,),
            )
            row = connection.execute("SELECT value FROM feedback_meta WHERE key = 'salt'").fetchone()
            return str(row[0])  # type: ignore[index]

        return self._database.write(work)

    def user_hash(self, actor: Actor) -> str:
        return hash_user(self._salt, actor)

    def record_answer(self, actor: Actor, answer: Answer) -> int:
        """Log a question and what the bot answered; returns the id votes refer to."""
        from psycopg.types.json import Jsonb

        documents, passages = answer_ids(answer)
        values = (_now(), actor.platform, self.user_hash(actor), answer.question, bool(answer.found),
                  Jsonb(documents), Jsonb(passages), answer.best_passage_score)

        def work(connection: psycopg.Connection) -> int:
            row = connection.execute(
                "INSERT INTO asked (asked_at, platform, user_hash, question, found, document_ids,"
                " passage_ids, best_score) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                values,
            ).fetchone()
            return int(row[0])  # type: ignore[index]

        return self._database.write(work)

    def vote(self, actor: Actor, answer_id: int, value: int) -> Vote:
        """One vote per person and answer; voting again changes it."""
        check_vote(value)
        user = self.user_hash(actor)
        now = _now()

        def work(connection: psycopg.Connection) -> tuple[Any, ...] | None:
            # FOR SHARE: the answer cannot be deleted between this check and the vote.
            row = connection.execute(
                "SELECT question, document_ids FROM asked WHERE id = %s FOR SHARE", (answer_id,)
            ).fetchone()
            if row is not None:
                connection.execute(
                    "INSERT INTO votes (answer_id, user_hash, value, voted_at) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (answer_id, user_hash)"
                    " DO UPDATE SET value = excluded.value, voted_at = excluded.voted_at",
                    (answer_id, user, value, now),
                )
            return row

        if not storable_id(answer_id):
            raise UnknownAnswer(UNKNOWN_ANSWER)
        row = self._database.write(work)
        if row is None:
            raise UnknownAnswer(UNKNOWN_ANSWER)
        return Vote(answer_id, str(row[0]), list(row[1]), value, user)

    def votes(self, answer_id: int) -> list[Vote]:
        def work(connection: psycopg.Connection) -> list[tuple[Any, ...]]:
            return connection.execute(
                "SELECT v.answer_id, a.question, a.document_ids, v.value, v.user_hash FROM votes v"
                " JOIN asked a ON a.id = v.answer_id WHERE v.answer_id = %s ORDER BY v.voted_at, v.user_hash",
                (answer_id,),
            ).fetchall()

        if not storable_id(answer_id):
            return []
        return [Vote(int(r[0]), str(r[1]), list(r[2]), int(r[3]), str(r[4])) for r in self._database.read(work)]

    # -- reports --------------------------------------------------------------------------

    def gap_questions(self, since: str | None = None, limit: int = 5000) -> list[GapQuestion]:
        """Declined questions and answers with more 👎 than 👍, most recent first (see
        `FeedbackLog.gap_questions`)."""
        where, bound = _from("a.asked_at", since)

        def work(connection: psycopg.Connection) -> list[tuple[Any, ...]]:
            return connection.execute(
                "SELECT a.question, a.asked_at, a.found, COALESCE(SUM(v.value), 0) AS net"
                f" FROM asked a LEFT JOIN votes v ON v.answer_id = a.id {where} GROUP BY a.id"
                " HAVING NOT a.found OR COALESCE(SUM(v.value), 0) < 0"
                " ORDER BY a.asked_at DESC, a.id DESC LIMIT %s",
                (*bound, max(0, limit)),
            ).fetchall()

        return [GapQuestion(str(r[0]), str(utc_text(r[1])), not r[2], int(r[3]) < 0)
                for r in self._database.read(work)]

    def totals(self) -> Totals:
        def work(connection: psycopg.Connection) -> Totals:
            asked = connection.execute("SELECT COUNT(*), COUNT(*) FILTER (WHERE found) FROM asked").fetchone()
            votes = connection.execute(
                "SELECT COUNT(*) FILTER (WHERE value > 0), COUNT(*) FILTER (WHERE value < 0) FROM votes"
            ).fetchone()
            assert asked is not None and votes is not None
            return Totals(int(asked[0]), int(asked[1]), int(votes[0]), int(votes[1]))

        return self._database.read(work)

    def activity_by_week(self, since: str) -> dict[str, WeekActivity]:
        """Questions, answers and votes per ISO week (keyed by its Monday, UTC) from `since`
        (YYYY-MM-DD) on."""
        monday = "to_char(date_trunc('week', {0} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
        asked_from, asked_bound = _from("asked_at", since)
        voted_from, voted_bound = _from("voted_at", since)

        def work(connection: psycopg.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            asked = connection.execute(
                f"SELECT {monday.format('asked_at')} AS week, COUNT(*), COUNT(*) FILTER (WHERE found)"
                f" FROM asked {asked_from} GROUP BY week ORDER BY week",
                asked_bound,
            ).fetchall()
            votes = connection.execute(
                f"SELECT {monday.format('voted_at')} AS week, COUNT(*) FILTER (WHERE value > 0),"
                f" COUNT(*) FILTER (WHERE value < 0) FROM votes {voted_from} GROUP BY week ORDER BY week",
                voted_bound,
            ).fetchall()
            return asked, votes

        asked, votes = self._database.read(work)
        return merge_weeks(asked, votes)  # type: ignore[arg-type]

    def close(self) -> None:
        """Nothing to do: the database belongs to whoever made it, and is closed by them."""
