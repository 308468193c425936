"""The core path with the real model, real FAISS and real SQLite, on the built-in knowledge."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.answer import NO_ANSWER
from bot.core.errors import QuestionError
from bot.core.render import gap_prefix, render_markdown, render_plain
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings
from index.embedder import SentenceTransformerEmbedder
from tests.conftest import SEED_ARTICLE

SEED_TEXT_QUESTIONS = [
    ("How many North Korean troops arrived in Russia?", "10,000"),
    ("so how many troops did NK send??", "10,000"),
    ("Which long-range missiles was Ukraine allowed to use against Russian positions?", "ATACMS"),
    ("What did Macron call North Korea's military support?", "rupture"),
    ("When did Zelensky congratulate Trump?", "November 6"),
    ("Who will finance Ukraine's security according to O'Brien?", "European nations"),
]

OFF_TOPIC = [
    "Who won the 2022 FIFA World Cup final?",
    "How long should I boil an egg for a soft yolk?",
    "My laptop won't connect to wifi, what should I do?",
    "What is the boiling point of water on Mount Everest?",
    "Which actor played Iron Man in the Marvel films?",
    "What's a good recipe for banana bread?",
    "How many moons does Jupiter have?",
    "How do I reset my iPhone to factory settings?",
]



@pytest.mark.parametrize(("question", "expected"), SEED_TEXT_QUESTIONS)
def test_questions_about_the_seed_article_cite_the_right_passage(
    seeded_bot: CrisisBot, question: str, expected: str
) -> None:
    answer = seeded_bot.ask(question)
    assert answer.found, f"declined: best score {answer.best_passage_score:.3f}"
    assert any(expected in quote.text for quote in answer.quotes), [q.text for q in answer.quotes]
    assert [s.number for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    for quote in answer.quotes:
        document = answer.source(quote.source).document
        assert seeded_bot.store.document_text(document.id)[quote.start : quote.end] == quote.text
        passage = seeded_bot.store.stored_passages([quote.passage_id])[quote.passage_id].passage
        assert quote.text in passage.text
        assert passage.start <= quote.start and quote.end <= passage.end


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_declined(seeded_bot: CrisisBot, question: str) -> None:
    answer = seeded_bot.ask(question)
    assert not answer.found, [q.text for q in answer.quotes]
    assert answer.sources == []
    assert render_plain(answer) == NO_ANSWER


def test_answer_text_is_only_quotes_and_markers(seeded_bot: CrisisBot) -> None:
    answer = seeded_bot.ask("What did Zelensky say to Trump?")
    body = render_plain(answer).split("\n\nSources:")[0]
    rebuilt = " ".join(f"{gap_prefix(q)}{q.text} [{q.source}]" for q in answer.quotes)
    assert body == rebuilt
    source_lines = render_plain(answer).split("\n\nSources:\n")[1]
    assert "Turning Tides" in source_lines and "analysis" in source_lines
    assert "as of 2024-11" in source_lines
    assert "as of 2024-11" in render_markdown(answer)


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \n\t ", "empty"), ("x" * 1001, "too long (1,001 characters; the limit is 1,000)")],
)
def test_bad_questions_are_refused_clearly(seeded_bot: CrisisBot, question: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seeded_bot.ask(question)


def test_a_question_of_exactly_the_limit_is_accepted(seeded_bot: CrisisBot) -> None:
    question = ("How many North Korean troops arrived in Russia? " * 30)[:1000]
    assert seeded_bot.ask(question).question == question.strip()


def test_seed_is_loaded_once_and_its_removal_respected(
    make_backend_settings: Callable[..., Settings], real_embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_backend_settings()
    bot = CrisisBot(settings, real_embedder)
    assert [d.id for d in bot.sources()] == [SEED_ARTICLE.stem]
    bot.remove(SEED_ARTICLE.stem)
    bot.close()
    again = CrisisBot(settings, real_embedder)
    assert again.sources() == []
    assert not again.ask("How many North Korean troops arrived in Russia?").found


def test_remove_and_re_add_changes_what_is_cited(
    make_backend_settings: Callable[..., Settings], real_embedder: SentenceTransformerEmbedder
) -> None:
    bot = CrisisBot(make_backend_settings(), real_embedder)
    question = "How many North Korean troops arrived in Russia?"
    assert bot.ask(question).found
    bot.remove(SEED_ARTICLE.stem)
    assert not bot.ask(question).found
    documents = bot.read([SEED_ARTICLE], "test")
    report = bot.ingest(documents.documents)
    assert report.added == [SEED_ARTICLE.stem]
    answer = bot.ask(question)
    assert answer.found and "10,000" in answer.quotes[0].text


def test_a_replaced_document_is_cited_in_its_new_version(
    make_backend_settings: Callable[..., Settings], real_embedder: SentenceTransformerEmbedder, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    bot = CrisisBot(make_backend_settings(load_builtin_knowledge=False), real_embedder)
    story = tmp_path / "ceasefire.md"
    story.write_text("---\ntitle: Ceasefire talks\npublished: 2024-12-01\nkind: news\n---\n"
                     "Negotiators met in Istanbul to discuss a ceasefire. The talks ended without agreement.\n")
    bot.ingest(bot.read([story], "test").documents)
    assert "without agreement" in " ".join(q.text for q in bot.ask("Did the ceasefire talks in Istanbul succeed?").quotes)
    story.write_text("---\ntitle: Ceasefire talks\npublished: 2024-12-02\nkind: news\n---\n"
                     "Negotiators met in Istanbul to discuss a ceasefire. The talks ended with a signed agreement.\n")
    report = bot.ingest(bot.read([story], "test").documents)
    assert report.replaced == ["ceasefire"]
    text = " ".join(q.text for q in bot.ask("Did the ceasefire talks in Istanbul succeed?").quotes)
    assert "signed agreement" in text and "without agreement" not in text
    assert bot.sources()[0].published == "2024-12-02"
