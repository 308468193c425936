"""Multilingual retrieval through the bot (issue 20): settings, the writer, the background fill
and the retriever's fusion, with the real models on a small knowledge base.

The e5 export (about 20 s) is made once per session, in a folder every bot here shares as its
embedding cache's neighbour (`CrisisBot(embedding_cache_path=...)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from knowledge.documents import Document, Kind
from knowledge.errors import ConfigError

FACTS = {
    "grain": ("Grain corridor", "Ships loaded with wheat and maize left the ports of Odesa under a deal "
              "brokered by Turkey and the United Nations, and grain exports through the Black Sea "
              "reached several million tonnes a month."),
    "power": ("Blackouts", "Russian missiles struck power stations across Ukraine, and the grid operator "
              "ordered rolling blackouts; hospitals ran on diesel generators through the night."),
    "refugees": ("Refugees", "Millions of people fled Ukraine to Poland, Romania and Moldova; most of them "
                 "were women and children, and schools abroad opened classes for them."),
    "nuclear": ("Zaporizhzhia", "Inspectors of the International Atomic Energy Agency visited the "
                "Zaporizhzhia nuclear power plant after shelling cut its external power lines."),
    "sport": ("Football", "The national football team won its qualifying match in extra time, and "
              "supporters celebrated in the streets of the capital."),
}
QUESTIONS = {  # written for these tests; each names none of its passage's rare words in English
    "uk": ("Скільки зерна вивезли морем з портів?", "grain"),
    "ru": ("Почему в больницах работали генераторы ночью?", "power"),
}


def documents() -> list[Document]:
    return [Document(id=key, title=title, text=text, kind=Kind.NEWS, published="2022-09-01",
                     added_by="test") for key, (title, text) in FACTS.items()]


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedding cache every bot here uses; e5's export lands beside it (in onnx/) once."""
    return tmp_path_factory.mktemp("e5-shared") / "embeddings.sqlite3"


def make_bot(data_dir: Path, cache: Path, embedder: SentenceTransformerEmbedder, on: bool) -> CrisisBot:
    settings = load_settings(data_dir=data_dir, load_builtin_knowledge=False, multilingual_retrieval=on)
    return CrisisBot(settings, embedder, embedding_cache_path=cache)


@pytest.fixture
def bot_on(tmp_path: Path, e5_cache: Path, real_embedder: SentenceTransformerEmbedder) -> Iterator[CrisisBot]:
    bot = make_bot(tmp_path / "data", e5_cache, real_embedder, on=True)
    bot.open()
    bot.ingest(documents())
    yield bot
    bot.close()


def test_multilingual_retrieval_is_off_by_default() -> None:
    assert load_settings().multilingual_retrieval is False
    assert load_settings().multilingual_quantize is True


def test_postgresql_refuses_multilingual_retrieval_at_start() -> None:
    with pytest.raises(ConfigError, match="CRISISBOT_MULTILINGUAL_RETRIEVAL: .*embedded-only for now"):
        load_settings(multilingual_retrieval=True, database_url="postgresql://bot@localhost/crisisbot")


def test_the_environment_turns_it_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`crisisbot eval` builds its settings with load_settings(data_dir=...): the variable counts."""
    monkeypatch.setenv("CRISISBOT_MULTILINGUAL_RETRIEVAL", "true")
    monkeypatch.setenv("CRISISBOT_MULTILINGUAL_QUANTIZE", "false")
    settings = load_settings(data_dir=tmp_path, load_builtin_knowledge=False, database_url=None)
    assert settings.multilingual_retrieval and not settings.multilingual_quantize


@pytest.mark.slow
@pytest.mark.parametrize("language", sorted(QUESTIONS))
def test_a_cyrillic_question_finds_the_english_passage_first(bot_on: CrisisBot, language: str) -> None:
    question, expected = QUESTIONS[language]
    hits = bot_on.retriever.search(question, 3)
    assert hits[0].stored.document.id == expected
    assert hits[0].language == language and hits[0].multilingual_score is not None
    assert hits[0].score == pytest.approx(float(bot_on.embedder.embed([hits[0].stored.passage.text])[0]
                                                @ bot_on.embedder.embed([question])[0]), abs=1e-4)


@pytest.mark.slow
def test_without_the_setting_they_do_not(tmp_path: Path, e5_cache: Path,
                                         real_embedder: SentenceTransformerEmbedder) -> None:
    """The test above can fail: MiniLM and BM25 alone miss both questions."""
    bot = make_bot(tmp_path / "data", e5_cache, real_embedder, on=False)
    try:
        bot.ingest(documents())
        for question, expected in QUESTIONS.values():
            hits = bot.retriever.search(question, 3)
            assert hits[0].stored.document.id != expected and hits[0].multilingual_score is None
        assert bot.store.multilingual_count() == 0  # type: ignore[attr-defined]
    finally:
        bot.close()


@pytest.mark.slow
def test_english_questions_still_find_their_passage(bot_on: CrisisBot) -> None:
    hits = bot_on.retriever.search("Who inspected the nuclear plant?", 3)
    assert hits[0].stored.document.id == "nuclear" and hits[0].language == "en"


@pytest.mark.slow
def test_turning_it_on_fills_the_vectors_in_the_background(tmp_path: Path, e5_cache: Path,
                                                           real_embedder: SentenceTransformerEmbedder) -> None:
    data_dir = tmp_path / "data"
    bot = make_bot(data_dir, e5_cache, real_embedder, on=False)
    bot.ingest(documents())
    passages = bot.store.passage_count()
    bot.close()
    bot = make_bot(data_dir, e5_cache, real_embedder, on=True)
    try:
        assert bot.multilingual is not None
        bot.open()  # starts the fill
        assert bot.multilingual.fill.wait(timeout=120)
        assert bot.store.multilingual_count() == passages  # type: ignore[attr-defined]
        question, expected = QUESTIONS["uk"]
        hits = bot.retriever.search(question, 3)
        assert hits[0].multilingual_score is not None and hits[0].stored.document.id == expected
        assert (data_dir / "passages-multilingual.faiss").exists()
    finally:
        bot.close()


def beir_folder(root: Path) -> Path:
    """FACTS as a BEIR corpus, and the Cyrillic questions judged against their passages."""
    import json

    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": key, "title": title, "text": text}) + "\n" for key, (title, text) in FACTS.items()))
    (root / "queries.jsonl").write_text("".join(
        json.dumps({"_id": language, "text": question}, ensure_ascii=False) + "\n"
        for language, (question, _) in QUESTIONS.items()))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{language}\t{expected}\t1\n" for language, (_, expected) in QUESTIONS.items()))
    return root


@pytest.mark.slow
def test_crisisbot_eval_takes_the_setting_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, e5_cache: Path) -> None:
    """`crisisbot eval` measures what a question goes through: with the variable set, its queries
    are embedded by e5 too and both Cyrillic questions rank their passage first."""
    from bot.runtime.evaluation import evaluate

    folder = beir_folder(tmp_path / "beir")
    off = evaluate(folder, k=10, embedding_cache=e5_cache)
    monkeypatch.setenv("CRISISBOT_MULTILINGUAL_RETRIEVAL", "true")
    on = evaluate(folder, k=10, embedding_cache=e5_cache)
    assert on["metrics"]["MRR@10"] == 1.0 > off["metrics"]["MRR@10"]
