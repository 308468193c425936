"""Dates in answers: reports of different dates are quoted with their dates, and a question
about the present prefers the newest report (with the real model)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.core.render import render_plain
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from knowledge.documents import Document, Kind

OCTOBER = Document(
    id="oct", title="Seoul: North Korea sends soldiers to Russia", kind=Kind.NEWS,
    published="2024-10-18", publisher="Korea Herald",
    text="North Korea has sent about 3,000 troops to Russia, South Korea's spy agency said. "
         "The soldiers are being trained at bases in Russia's far east.",
)
NOVEMBER = Document(
    id="nov", title="Pentagon: North Korean troops in Kursk", kind=Kind.NEWS,
    published="2024-11-12", publisher="Defense News",
    text="The Pentagon said more than 10,000 North Korean soldiers had been deployed to Russia's "
         "Kursk region. Officials expect them to join combat against Ukrainian forces soon.",
)
FILLER = [
    Document(id=f"filler-{i}", title=title, kind=Kind.NEWS, published="2024-11-01", text=text)
    for i, (title, text) in enumerate([
        ("Grain exports", "Ships carrying Ukrainian wheat left Odesa through the Black Sea corridor."),
        ("Power grid", "Drone and missile strikes on the power grid caused blackouts in Kyiv."),
        ("Refugees", "Millions of refugees from Ukraine found shelter in Poland and Germany."),
        ("Sanctions", "The European Union agreed a new package of sanctions on Russian oil."),
    ])
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> CrisisBot:
    folder: Path = tmp_path_factory.mktemp("dates")
    bot = CrisisBot(load_settings(data_dir=folder, load_builtin_knowledge=False), real_embedder)  # type: ignore[arg-type]
    bot.ingest([OCTOBER, NOVEMBER, *FILLER])
    return bot


@pytest.mark.slow
def test_reports_of_different_dates_are_quoted_with_their_dates(bot: CrisisBot) -> None:
    answer = bot.ask("How many North Korean troops has North Korea sent to Russia?",
                     asked_at=date(2024, 11, 20))
    cited = {s.document.id for s in answer.sources}
    assert cited == {"oct", "nov"}, [q.text for q in answer.quotes]
    text = render_plain(answer, today=date(2024, 11, 20))
    assert "[1, 2024-" in text and "[2, 2024-" in text
    assert "as of 2024-10-18" in text and "as of 2024-11-12" in text


LATEST = ["What is the latest number of North Korean troops sent to Russia?",
          "How many North Korean troops are in Russia right now?"]


@pytest.mark.slow
@pytest.mark.parametrize("question", LATEST)
def test_questions_about_the_present_quote_the_newest_report_first(bot: CrisisBot, question: str) -> None:
    answer = bot.ask(question, asked_at=date(2024, 11, 20))
    assert answer.found
    assert answer.source(answer.quotes[0].source).document.id == "nov", [q.text for q in answer.quotes]


@pytest.mark.slow
@pytest.mark.parametrize("question", LATEST)
def test_the_newest_report_wins_by_its_date_not_its_wording(bot: CrisisBot, question: str) -> None:
    """The October sentence matches these questions better (higher cosine): the date puts
    November first. A much closer wording can still win: the preference is a bonus, not a
    filter ("how many troops has North Korea sent so far?" quotes October first here)."""
    hits = bot.retriever.search(question, 8, date(2024, 11, 20))
    by_id = {h.stored.document.id: h for h in hits}
    assert by_id["oct"].score > by_id["nov"].score


@pytest.mark.slow
def test_without_recency_words_the_order_is_by_relevance_alone(bot: CrisisBot) -> None:
    """Asked about the spy agency's figure, the October report comes first whatever its age."""
    answer = bot.ask("What did South Korea's spy agency say about North Korean troops sent to Russia?",
                     asked_at=date(2024, 11, 20))
    assert answer.source(answer.quotes[0].source).document.id == "oct"
