"""The feedback log in the knowledge database file (the embedded default)."""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

from bot.core import feedback
from bot.core.actors import Actor
from bot.core.answer import Answer
from bot.core.feedback import (GapQuestion, Totals, UnknownAnswer, Vote, WeekActivity, answer_ids, check_vote,
                               hash_user, merge_weeks, storable_id, UNKNOWN_ANSWER)
from knowledge.database import open_tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS asked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at TEXT NOT NULL,
    platform TEXT NOT NULL,
    user_hash TEXT NOT NULL,
    question TEXT NOT NULL,
    found INTEGER NOT NULL,
    document_ids TEXT NOT NULL,
    passage_ids TEXT NOT NULL,
    best_score REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id INTEGER NOT NULL REFERENCES asked(id) ON DELETE CASCADE,
    user_hash TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value IN (-1, 1)),
    voted_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);
"""


class FeedbackLog:
    """Questions, answers and votes in the knowledge database file, in their own tables."""

    def __init__(self, path: Path) -> None:
        self._db = open_tables(path, _SCHEMA)
        self._lock = threading.Lock()
        self._salt = self._load_salt()

    def _load_salt(self) -> str:
        self._db.execute(
            "INSERT OR IGNORE INTO feedback_meta VALUES ('salt', ?)", (secrets.token_hex(16),)
        )
        return str(self._db.execute("SELECT value FROM feedback_meta WHERE key = 'salt'").fetchone()[0])

    def user_hash(self, actor: Actor) -> str:
        return hash_user(self._salt, actor)

    def record_answer(self, actor: Actor, answer: Answer) -> int:
        """Log a question and what the bot answered; returns the id votes refer to."""
        documents, passages = answer_ids(answer)
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO asked (asked_at, platform, user_hash, question, found, document_ids,"
                " passage_ids, best_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (feedback._now(), actor.platform, self.user_hash(actor), answer.question, int(answer.found),
                 json.dumps(documents), json.dumps(passages), answer.best_passage_score),
            )
        return int(cursor.lastrowid or 0)

    def vote(self, actor: Actor, answer_id: int, value: int) -> Vote:
        """One vote per person and answer; voting again changes it."""
        check_vote(value)
        if not storable_id(answer_id):
            raise UnknownAnswer(UNKNOWN_ANSWER)
        user = self.user_hash(actor)
        with self._lock:
            row = self._db.execute(
                "SELECT question, document_ids FROM asked WHERE id = ?", (answer_id,)
            ).fetchone()
            if row is None:
                raise UnknownAnswer(UNKNOWN_ANSWER)
            self._db.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?) ON CONFLICT (answer_id, user_hash)"
                " DO UPDATE SET value = excluded.value, voted_at = excluded.voted_at",
                (answer_id, user, value, feedback._now()),
            )
        return Vote(answer_id, str(row[0]), json.loads(row[1]), value, user)

    def votes(self, answer_id: int) -> list[Vote]:
        if not storable_id(answer_id):
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT v.answer_id, a.question, a.document_ids, v.value, v.user_hash FROM votes v"
                " JOIN asked a ON a.id = v.answer_id WHERE v.answer_id = ? ORDER BY v.voted_at",
                (answer_id,),
            ).fetchall()
        return [Vote(int(r[0]), str(r[1]), json.loads(r[2]), int(r[3]), str(r[4])) for r in rows]

    # -- reports --------------------------------------------------------------------------

    def gap_questions(self, since: str | None = None, limit: int = 5000) -> list[GapQuestion]:
        """Declined questions and answers with more 👎 than 👍, most recent first.

        An answer is counted as a gap by its net vote, so one person's 👎 among several 👍 does
        not send admins after a source that serves most people well.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT a.question, a.asked_at, a.found, COALESCE(SUM(v.value), 0) AS net"
                " FROM asked a LEFT JOIN votes v ON v.answer_id = a.id"
                " WHERE a.asked_at >= ? GROUP BY a.id"
                " HAVING a.found = 0 OR net < 0 ORDER BY a.asked_at DESC, a.id DESC LIMIT ?",
                (since or "", limit),
            ).fetchall()
        return [GapQuestion(str(r[0]), str(r[1]), not r[2], int(r[3]) < 0) for r in rows]

    def totals(self) -> Totals:
        with self._lock:
            asked = self._db.execute("SELECT COUNT(*), COALESCE(SUM(found), 0) FROM asked").fetchone()
            votes = self._db.execute(
                "SELECT COALESCE(SUM(value > 0), 0), COALESCE(SUM(value < 0), 0) FROM votes"
            ).fetchone()
        return Totals(int(asked[0]), int(asked[1]), int(votes[0]), int(votes[1]))

    def activity_by_week(self, since: str) -> dict[str, WeekActivity]:
        """Questions, answers and votes per ISO week (keyed by its Monday, UTC) from `since`
        (YYYY-MM-DD) on."""
        monday = "date({0}, 'weekday 0', '-6 days')"
        with self._lock:
            asked = self._db.execute(
                f"SELECT {monday.format('asked_at')} AS week, COUNT(*), SUM(found) FROM asked"
                " WHERE asked_at >= ? GROUP BY week", (since,)
            ).fetchall()
            votes = self._db.execute(
                f"SELECT {monday.format('voted_at')} AS week, SUM(value > 0), SUM(value < 0)"
                " FROM votes WHERE voted_at >= ? GROUP BY week", (since,)
            ).fetchall()
        return merge_weeks(asked, votes)

    def close(self) -> None:
        self._db.close()
