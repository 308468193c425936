"""What was asked, what was answered, and how people voted, kept for coverage-gap reports.

Users are stored only as a salted hash of platform and id: enough to count one vote per person
and to spot brigading, never enough to tell who asked what. The salt is made once per data
folder and stays in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from bot.core.actors import Actor
from bot.core.answer import Answer
from bot.core.messages import UNKNOWN_ANSWER as UNKNOWN_ANSWER  # re-exported to both feedback logs
from knowledge.errors import CrisisbotError


class UnknownAnswer(CrisisbotError):
    """A vote for an answer this knowledge base never gave (or no longer keeps)."""


@dataclass(frozen=True)
class GapQuestion:
    """A question the knowledge base did not serve: declined, or answered and voted 👎."""

    question: str
    asked_at: str
    declined: bool
    voted_down: bool


@dataclass(frozen=True)
class WeekActivity:
    questions: int = 0
    answered: int = 0
    votes_up: int = 0
    votes_down: int = 0


@dataclass(frozen=True)
class Totals:
    questions: int
    answered: int
    votes_up: int
    votes_down: int


@dataclass(frozen=True)
class Vote:
    answer_id: int
    question: str
    document_ids: list[str]
    value: int
    user_hash: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def hash_user(salt: str, actor: Actor) -> str:
    """The salted hash a person is stored as (the same in every backend, given the same salt)."""
    return hashlib.sha256(f"{salt}:{actor.key}".encode()).hexdigest()[:32]


def answer_ids(answer: Answer) -> tuple[list[str], list[Any]]:
    """The documents an answer cited, in order, and the passages it quoted, as logged."""
    return [s.document.id for s in answer.sources], sorted({q.passage_id for q in answer.quotes})




def check_vote(value: int) -> None:
    if value not in (-1, 1):
        raise ValueError("a vote is +1 or -1")


def storable_id(answer_id: int) -> bool:
    """Whether `answer_id` fits the databases' 64-bit ids (a larger one names no answer)."""
    return -(2**63) <= answer_id < 2**63


def merge_weeks(
    asked: Iterable[tuple[Any, Any, Any]], votes: Iterable[tuple[Any, Any, Any]]
) -> dict[str, WeekActivity]:
    """Rows of (week, questions, answered) and (week, votes up, votes down) as one mapping."""
    weeks: dict[str, WeekActivity] = {}
    for week, questions, answered in asked:
        weeks[str(week)] = WeekActivity(int(questions or 0), int(answered or 0))
    for week, up, down in votes:
        seen = weeks.get(str(week), WeekActivity())
        weeks[str(week)] = WeekActivity(seen.questions, seen.answered, int(up or 0), int(down or 0))
    return weeks


class Feedback(Protocol):
    """What the bot needs of a feedback log, whichever database keeps it."""

    def user_hash(self, actor: Actor) -> str: ...
    def record_answer(self, actor: Actor, answer: Answer) -> int: ...
    def vote(self, actor: Actor, answer_id: int, value: int) -> Vote: ...
    def votes(self, answer_id: int) -> list[Vote]: ...
    def gap_questions(self, since: str | None = None, limit: int = 5000) -> list[GapQuestion]: ...
    def totals(self) -> Totals: ...
    def activity_by_week(self, since: str) -> dict[str, WeekActivity]: ...
    def close(self) -> None: ...
