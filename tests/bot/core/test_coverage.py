"""`kb gaps` and `kb stats`: what the knowledge base misses, and how it is used, week by week.

Gaps are grouped with the real model (grouping by meaning is the point); the stats test uses the
fast hashing embedder and dates pinned by the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.core.actors import NotAllowed
from bot.core.admin import AdminError
from bot.core.coverage import GapCluster, group_gaps
from bot.core.feedback import GapQuestion
from bot.core.render import gap_lines, stats_lines
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings
from index.embedder import SentenceTransformerEmbedder
from knowledge.documents import Document
from tests.fakes import HashingEmbedder


@pytest.fixture
def make_bot(make_backend_settings: Callable[..., Settings]) -> Iterator[Callable[..., CrisisBot]]:
    made: list[CrisisBot] = []

    def make(embedder: object, **overrides: object) -> CrisisBot:
        overrides.setdefault("questions_per_minute", 1000)
        bot = CrisisBot(make_backend_settings(**overrides), embedder)  # type: ignore[arg-type]
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.close()


def test_gaps_group_declined_and_voted_down_questions_by_meaning(
    make_bot: Callable[..., CrisisBot], real_embedder: SentenceTransformerEmbedder
) -> None:
    bot = make_bot(real_embedder)  # the seed article
    people = [bot.actor("telegram", n, f"user {n}") for n in range(1, 6)]
    declined = {
        "Who won the football world cup in 2018?": people[:2],
        "which country won the 2018 world cup?": people[2:3],
        "What is the best pizza recipe?": people[:1],
        "best pizza recipe please": people[1:2],
    }
    for question, askers in declined.items():
        for actor in askers:
            assert not bot.ask(question, actor).found, question
    troops = bot.ask("How many North Korean troops arrived in Russia?", people[0])
    liked = bot.ask("Where were the North Korean troops deployed?", people[1])
    assert troops.found and liked.found and troops.id and liked.id
    bot.vote(people[3], troops.id, -1)
    bot.vote(people[1], liked.id, -1)  # one 👎 among two 👍: not a gap
    bot.vote(people[2], liked.id, 1)
    bot.vote(people[4], liked.id, 1)

    groups = bot.admin.gaps(bot.local_operator())

    assert [(g.asked, g.declined, g.voted_down) for g in groups] == [(3, 3, 0), (2, 2, 0), (1, 0, 1)]
    assert groups[0].questions == ["Who won the football world cup in 2018?", "which country won the 2018 world cup?"]
    assert sorted(groups[1].questions) == ["What is the best pizza recipe?", "best pizza recipe please"]
    assert groups[2].questions == ["How many North Korean troops arrived in Russia?"]
    text = "\n".join(gap_lines(groups))
    assert "1. asked 3× (3 declined)" in text and "3. asked 1× (1 voted 👎)" in text
    assert bot.admin.gaps(bot.local_operator(), limit=1) == groups[:1]
    assert bot.admin.gaps(bot.local_operator(), since="2999-01-01") == []


def test_grouping_anchors_on_the_most_asked_wording(real_embedder: SentenceTransformerEmbedder) -> None:
    """A chain of near neighbours does not merge unrelated questions, and the order of the rows
    does not change the groups."""
    rows = [
        GapQuestion("What is the best pizza recipe?", "2026-11-02T10:00:00+00:00", True, False),
        GapQuestion("how do I make pizza dough at home?", "2026-11-03T10:00:00+00:00", True, False),
        GapQuestion("What is the best pizza recipe?", "2026-11-01T10:00:00+00:00", True, False),
        GapQuestion("best pizza recipe please", "2026-11-04T10:00:00+00:00", False, True),
    ]
    groups = group_gaps(rows, real_embedder)
    assert groups == group_gaps(list(reversed(rows)), real_embedder)
    assert groups == [
        GapCluster(["What is the best pizza recipe?", "best pizza recipe please"], 3, 2, 1, "2026-11-04T10:00:00+00:00"),
        GapCluster(["how do I make pizza dough at home?"], 1, 1, 0, "2026-11-03T10:00:00+00:00"),
    ]
    assert group_gaps([], real_embedder) == []


def test_stats_count_documents_questions_answers_and_votes_by_week(
    make_bot: Callable[..., CrisisBot], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = make_bot(HashingEmbedder(dimension=384), load_builtin_knowledge=False)
    admin = bot.local_operator()
    text = "The ministry said the grain corridor would stay open through the winter. Ports are insured."
    bot.ingest([
        Document(id="old", title="Corridor", text=text, added_at="2026-11-04T09:00:00+00:00"),
        Document(id="new", title="Ports", text="Ports in Odesa reopened after repairs to the terminal.",
                 added_at="2026-11-23T09:00:00+00:00"),
    ])
    member = bot.actor("discord", 9, "Ira")
    monkeypatch.setattr("bot.core.feedback._now", lambda: "2026-11-05T12:00:00+00:00")  # a Thursday
    found = bot.ask("Will the grain corridor stay open through the winter?", member)
    bot.ask("Who won the football world cup in 2018?", member)
    assert found.found and found.id
    monkeypatch.setattr("bot.core.feedback._now", lambda: "2026-11-24T12:00:00+00:00")
    bot.vote(member, found.id, -1)
    bot.vote(bot.actor("discord", 10), found.id, 1)

    from datetime import date

    stats = bot.admin.stats(admin, weeks=4, today=date(2026, 11, 27))
    assert (stats.documents, stats.questions, stats.answered, stats.votes_up, stats.votes_down) == (2, 2, 1, 1, 1)
    assert stats.passages == bot.store.passage_count() >= 2
    assert stats.answered_share == 0.5
    assert [(w.week, w.documents_added, w.questions, w.answered, w.votes_up, w.votes_down) for w in stats.weeks] == [
        ("2026-11-02", 1, 2, 1, 0, 0),
        ("2026-11-09", 0, 0, 0, 0, 0),
        ("2026-11-16", 0, 0, 0, 0, 0),
        ("2026-11-23", 1, 0, 0, 1, 1),
    ]
    lines = stats_lines(stats)
    assert lines[1].startswith("questions: 2   answered: 1 (50%)")
    assert lines[4].split() == ["2026-11-02", "1", "2", "50%", "0", "0"]
    assert lines[5].split() == ["2026-11-09", "0", "0", "-", "0", "0"]


def test_gaps_and_stats_are_for_admins(make_bot: Callable[..., CrisisBot]) -> None:
    bot = make_bot(HashingEmbedder(dimension=384), load_builtin_knowledge=False)
    moderator = bot.actor("telegram", 3, "Mod", platform_moderator=True)
    for attempt in (lambda: bot.admin.gaps(moderator), lambda: bot.admin.stats(moderator)):
        with pytest.raises(NotAllowed):
            attempt()
    assert [e.action for e in bot.audit.entries(limit=2)] == ["stats", "gaps"]
    with pytest.raises(AdminError, match="between 1 and 104"):
        bot.admin.stats(bot.local_operator(), weeks=0)
    with pytest.raises(AdminError, match="between 1 and 100"):
        bot.admin.gaps(bot.local_operator(), limit=0)
    with pytest.raises(Exception, match="bad since date"):
        bot.admin.gaps(bot.local_operator(), since="last week")
