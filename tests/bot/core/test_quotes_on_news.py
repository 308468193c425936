"""The issue's examples, end to end with the real model, on a small knowledge base of
news-2022.jsonl reports (Bucha, Kreminna, Kharkiv, Kyiv, Kherson, Azovstal) and the seed article.

Each question once led with a misleading quote: a debunked claim as fact, a death toll of
another town, a city that was not the one asked about, an older report as "the latest".
"""

from __future__ import annotations

import json

import pytest

from bot.core.answer import Answer
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from knowledge.documents import Document
from tests.conftest import shared_file

pytestmark = pytest.mark.slow

DOCUMENTS = {
    "guardian-bd3f79f1e493",  # China's pro-Russia propaganda exposed: quotes the Bucha lie to debunk it
    "guardian-5a3ce199ff5e",  # Russia now synonymous with Bucha killings
    "nyt-94cdd9ffefab",  # Reunited in Bucha
    "guardian-40cd86862a01",  # Russia takes Donbas town (Kreminna: "about 200 dead")
    "guardian-623ab8354201",  # Kharkiv: "The city, which was returning to normal life..."
    "guardian-a7f70fb24ec3",  # embassies returning to Kyiv
    "nyt-d171507d9725",  # The Battle for Kherson, 27 July
    "guardian-0d8739e84a34",  # Can Ukrainian forces recapture Kherson?, 26 July
    "guardian-c435ea5fb7ae",  # Ukrainian offensive forces Russia to bolster troops in the south, 31 July
    "guardian-16f2530e1520",  # prisoner exchange: the Azovstal defenders surrendered in May
    "nyt-5272682f89a3",  # Inside the Azovstal Siege
    "guardian-0f62707e131b",  # Russia steps up Azovstal siege
}


@pytest.fixture(scope="module")
def news_bot(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> CrisisBot:
    lines = shared_file("corpus/news-2022.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = tmp_path_factory.mktemp("news") / "chosen.jsonl"
    chosen.write_text("\n".join(line for line in lines if json.loads(line)["id"] in DOCUMENTS), encoding="utf-8")
    bot = CrisisBot(load_settings(data_dir=tmp_path_factory.mktemp("kb")), real_embedder)  # type: ignore[arg-type]
    documents: list[Document] = bot.read([chosen], "test").documents
    assert len(documents) == len(DOCUMENTS)
    bot.ingest(documents)
    return bot


def quoted(answer: Answer) -> str:
    return " ".join(q.text for q in answer.quotes)


def verbatim(bot: CrisisBot, answer: Answer) -> None:
    for quote in answer.quotes:
        document = answer.source(quote.source).document
        assert bot.store.document_text(document.id)[quote.start : quote.end] == quote.text


def test_what_happened_in_bucha_does_not_present_the_debunked_claim_as_fact(news_bot: CrisisBot) -> None:
    answer = news_bot.ask("What happened in Bucha?")
    assert answer.found and "Bucha" in quoted(answer)
    assert "caused by Ukraine shelling Bucha" not in quoted(answer)
    assert "– video" not in quoted(answer)  # no caption
    verbatim(news_bot, answer)


def test_how_many_were_killed_in_bucha_is_answered_about_bucha(news_bot: CrisisBot) -> None:
    answer = news_bot.ask("How many were killed in Bucha?")
    assert "about 200 dead" not in quoted(answer)
    assert all("Bucha" in q.text or "Bucha" in answer.source(q.source).document.title for q in answer.quotes)
    assert answer.explanation.question_type == "how many"


def test_is_it_safe_to_return_to_kyiv_is_not_answered_about_kharkiv(news_bot: CrisisBot) -> None:
    answer = news_bot.ask("Is it safe to return to Kyiv?")
    assert "returning to normal life" not in quoted(answer)
    assert all("Kyiv" in q.text for q in answer.quotes)


def test_why_did_biden_allow_atacms_quotes_the_reason_with_what_this_refers_to(news_bot: CrisisBot) -> None:
    answer = news_bot.ask("Why did Biden allow ATACMS?")
    lead = answer.quotes[0]
    assert "prompted U.S. President Joe Biden" in lead.text
    assert lead.text.startswith("The initial shock stems from the arrival of at least 10,000 North Korean troops")
    reasons = answer.explanation.quotes[0].reasons
    assert "brings its antecedent" in reasons and "gives a reason" in reasons
    assert answer.explanation.question_type == "why"
    verbatim(news_bot, answer)


def test_the_latest_on_kherson_leads_with_the_newest_kherson_report(news_bot: CrisisBot) -> None:
    # Which reports are retrieved and accepted is the retriever's and the gate's concern; of
    # those, the newest leads, though older ones match the question's wording better.
    answer = news_bot.ask("What is the latest on Kherson?")
    assert answer.found and "Kherson" in answer.quotes[0].text
    dates = [answer.source(q.source).document.published or "" for q in answer.quotes]
    assert dates[0] == max(dates) and len(set(dates)) > 1
    assert "newest source" in answer.explanation.quotes[0].reasons


def test_the_azovstal_defenders_answer_mentions_their_surrender(news_bot: CrisisBot) -> None:
    answer = news_bot.ask("What happened to the Azovstal defenders?")
    assert "surrender" in quoted(answer)
    verbatim(news_bot, answer)


def test_quotes_after_the_first_are_marked_as_gaps(news_bot: CrisisBot) -> None:
    answer = news_bot.ask("What happened to the Azovstal defenders?")
    assert [q.gap_before for q in answer.quotes] == [False] + [True] * (len(answer.quotes) - 1)


def test_a_question_about_a_place_the_knowledge_base_lacks_is_declined(news_bot: CrisisBot) -> None:
    # Lutsk is not in these reports: the Kreminna and Kharkiv passages close in wording are no answer.
    answer = news_bot.ask("How many were killed by the missile strike on Lutsk?")
    assert not answer.found and answer.explanation.question_type == "how many"


def test_is_it_true_is_searched_without_its_prefix_and_keeps_the_rebuttal(news_bot: CrisisBot) -> None:
    answer = news_bot.ask("Is it true that Ukraine shelled Bucha?")
    assert answer.question == "Is it true that Ukraine shelled Bucha?"
    assert answer.explanation.question_type == "is it true"
    assert answer.explanation.resolved_question == "Ukraine shelled Bucha?"
    assert "caused by Ukraine shelling Bucha" not in quoted(answer)
