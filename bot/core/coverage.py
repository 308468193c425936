"""What the knowledge base misses and how it is used: `kb gaps` and `kb stats`.

Gaps are the questions the bot declined and the answers people voted 👎. Admins need them
grouped, not listed: the same missing fact is asked twenty ways ("how many North Korean
troops…", "number of DPRK soldiers…"), and the biggest group is what to add first. Questions
are grouped by the cosine of their embeddings, with the model that answers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from bot.core.feedback import GapQuestion, WeekActivity
from index.embedder import Embedder

GAP_SIMILARITY = 0.7
"""Two questions this close (cosine of all-MiniLM-L6-v2 vectors) ask for the same thing.
Measured: paraphrases ("how many North Korean troops arrived in Russia?" / "how many soldiers
did north korea send to russia") 0.79-0.96; different questions about the war at most 0.53;
related but different questions ("best pizza recipe" / "make pizza dough at home") 0.66."""

MAX_GAP_QUESTIONS = 2000
"""The most recent gap questions grouped; older ones rarely say what to add now. Grouping
embeds each distinct question: 2,000 take 10-25 s on 2 cores (`make bench-gaps`)."""


@dataclass(frozen=True)
class GapCluster:
    """Questions asking for the same missing thing; `questions` are distinct texts, the most
    often asked first, so `questions[0]` stands for the group."""

    questions: list[str]
    asked: int  # all askings in the group, repeats included
    declined: int  # of which the bot said it had no answer
    voted_down: int  # answers in the group voted 👎
    last_asked: str  # UTC, ISO 8601

    @property
    def representative(self) -> str:
        return self.questions[0]


@dataclass(frozen=True)
class WeekStats:
    """One ISO week (Monday `week`), in UTC."""

    week: str
    documents_added: int
    questions: int
    answered: int
    votes_up: int
    votes_down: int


@dataclass(frozen=True)
class KnowledgeStats:
    documents: int
    passages: int
    questions: int
    answered: int
    votes_up: int
    votes_down: int
    weeks: list[WeekStats]  # oldest first, every week of the window, empty weeks included

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.questions if self.questions else None


def _key(question: str) -> str:
    return " ".join(question.lower().split()).rstrip("?!. ")


def group_gaps(
    rows: Sequence[GapQuestion], embedder: Embedder, similarity: float = GAP_SIMILARITY,
) -> list[GapCluster]:
    """Group gap questions whose embeddings are within `similarity` of a group's first
    question, biggest group first.

    Greedy leader clustering over the distinct questions, most frequent first: each group is
    anchored on its most asked wording, so a group never drifts from topic to topic by chains
    of near neighbours, and the result does not depend on the order rows arrive in.
    """
    distinct: dict[str, list[GapQuestion]] = {}
    for row in rows:
        distinct.setdefault(_key(row.question), []).append(row)
    if not distinct:
        return []
    keys = sorted(distinct, key=lambda k: (-len(distinct[k]), k))
    texts = [distinct[k][0].question for k in keys]
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    leaders: list[int] = []
    members: list[list[int]] = []
    for i in range(len(keys)):
        if leaders:
            scores = vectors[leaders] @ vectors[i]
            best = int(np.argmax(scores))
            if scores[best] >= similarity:
                members[best].append(i)
                continue
        leaders.append(i)
        members.append([i])
    clusters = []
    for group in members:
        group_rows = [row for i in group for row in distinct[keys[i]]]
        clusters.append(GapCluster(
            questions=[texts[i] for i in group],
            asked=len(group_rows),
            declined=sum(1 for row in group_rows if row.declined),
            voted_down=sum(1 for row in group_rows if row.voted_down),
            last_asked=max(row.asked_at for row in group_rows),
        ))
    return sorted(clusters, key=lambda c: (-c.asked, -c.voted_down, c.representative.lower()))


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_stats(
    documents_added: dict[str, int], activity: dict[str, WeekActivity], weeks: int, today: date,
) -> list[WeekStats]:
    """Every week of the last `weeks` (this one included), oldest first, zeros where quiet."""
    this_week = week_start(today)
    result = []
    for back in range(weeks - 1, -1, -1):
        monday = (this_week - timedelta(weeks=back)).isoformat()
        seen = activity.get(monday, WeekActivity())
        result.append(WeekStats(monday, documents_added.get(monday, 0), seen.questions,
                                seen.answered, seen.votes_up, seen.votes_down))
    return result
