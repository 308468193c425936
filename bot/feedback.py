"""What was asked, what was answered, and how people voted, kept for coverage-gap reports.

Users are stored only as a salted hash of platform and id: enough to count one vote per person
and to spot brigading, never enough to tell who asked what. The salt is made once per data
folder and stays in it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bot.actors import Actor
from bot.answer import Answer
from knowledge.database import open_tables
from knowledge.errors import CrisisbotError

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


class UnknownAnswer(CrisisbotError):
    """A vote for an answer this knowledge base never gave (or no longer keeps)."""


@dataclass(frozen=True)
class Vote:
    answer_id: int
    question: str
    document_ids: list[str]
    value: int
    user_hash: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
        return hashlib.sha256(f"{self._salt}:{actor.key}".encode()).hexdigest()[:32]

    def record_answer(self, actor: Actor, answer: Answer) -> int:
        """Log a question and what the bot answered; returns the id votes refer to."""
        documents = [s.document.id for s in answer.sources]
        passages = sorted({q.passage_id for q in answer.quotes})
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO asked (asked_at, platform, user_hash, question, found, document_ids,"
                " passage_ids, best_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), actor.platform, self.user_hash(actor), answer.question, int(answer.found),
                 json.dumps(documents), json.dumps(passages), answer.best_passage_score),
            )
        return int(cursor.lastrowid or 0)

    def vote(self, actor: Actor, answer_id: int, value: int) -> Vote:
        """One vote per person and answer; voting again changes it."""
        if value not in (-1, 1):
            raise ValueError("a vote is +1 or -1")
        user = self.user_hash(actor)
        with self._lock:
            row = self._db.execute(
                "SELECT question, document_ids FROM asked WHERE id = ?", (answer_id,)
            ).fetchone()
            if row is None:
                raise UnknownAnswer("That answer is no longer on record; your vote was not counted.")
            self._db.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?) ON CONFLICT (answer_id, user_hash)"
                " DO UPDATE SET value = excluded.value, voted_at = excluded.voted_at",
                (answer_id, user, value, _now()),
            )
        return Vote(answer_id, str(row[0]), json.loads(row[1]), value, user)

    def votes(self, answer_id: int) -> list[Vote]:
        with self._lock:
            rows = self._db.execute(
                "SELECT v.answer_id, a.question, a.document_ids, v.value, v.user_hash FROM votes v"
                " JOIN asked a ON a.id = v.answer_id WHERE v.answer_id = ? ORDER BY v.voted_at",
                (answer_id,),
            ).fetchall()
        return [Vote(int(r[0]), str(r[1]), json.loads(r[2]), int(r[3]), str(r[4])) for r in rows]

    def close(self) -> None:
        self._db.close()
