"""The lexical half stems Ukrainian and Russian by their own rules, and English as before."""

from __future__ import annotations

import pytest

from index.bm25 import Bm25Builder, QuestionTokenizer
from tests.index.conftest import Folder, doc
from tests.index.test_lexical import scores_by_document

UKRAINIAN = [
    doc("bucha", "Після відступу окупантів у Бучі загинули люди, яких розстріляли на вулицях."),
    doc("grain", "Зернова угода дозволила кораблям виходити з портів Одеси."),
    doc("energy", "Удари по електростанціях залишили мільйони людей без світла."),
    doc("kharkiv", "Харків зазнав обстрілів з перших днів війни."),
]
RUSSIAN = [
    doc("bucha", "После отступления войск в Буче погибли люди, их тела нашли на улицах."),
    doc("grain", "Зерновая сделка позволила судам выходить из портов Одессы."),
    doc("energy", "Удары по электростанциям оставили миллионы людей без света."),
]


def ranking(folder: Folder, question: str) -> list[str]:
    scores = scores_by_document(folder, folder.lexical(), question)
    return sorted((d for d in scores if scores[d] > 0), key=lambda d: -scores[d])


def test_a_ukrainian_question_finds_other_case_forms(any_folder: Folder) -> None:
    any_folder.writer.ingest(UKRAINIAN)
    assert ranking(any_folder, "Скільки загинуло людей у Бучі?")[0] == "bucha"
    assert ranking(any_folder, "Що сталося з Харковом?") == ["kharkiv"]
    assert ranking(any_folder, "зернову угоду")[0] == "grain"


def test_a_russian_question_finds_other_case_forms(any_folder: Folder) -> None:
    any_folder.writer.ingest(RUSSIAN)
    assert ranking(any_folder, "Сколько людей погибло в Буче?")[0] == "bucha"
    assert ranking(any_folder, "Что было с зерновой сделкой?") == ["grain"]


def test_function_words_alone_match_nothing(any_folder: Folder) -> None:
    any_folder.writer.ingest(UKRAINIAN + [doc("ru", "Что было в Одессе и что будет.")])
    assert ranking(any_folder, "що і у на з") == []
    assert ranking(any_folder, "что и в") == []


def test_latin_names_in_a_ukrainian_text_are_stemmed_as_english(any_folder: Folder) -> None:
    any_folder.writer.ingest([
        doc("himars", "Сполучені Штати передали Україні системи HIMARS, повідомив Байден."),
        doc("english", "The HIMARS launchers reached Ukraine."),
        doc("other", "Україна отримала танки."),
    ])
    assert set(ranking(any_folder, "HIMARS")) == {"himars", "english"}
    assert set(ranking(any_folder, "Де зараз системи HIMAR?")) >= {"himars", "english"}


def test_apostrophes_inside_ukrainian_words_keep_the_word_whole() -> None:
    tokenizer = QuestionTokenizer()
    assert tokenizer.stems("об’єкт") == tokenizer.stems("об'єкта") == tokenizer.stems("обʼєкти")


# English questions and texts: the stems pinned from the tokenizer before it knew languages.
PINNED = {
    "How many civilians were killed in Bucha after the Russian withdrawal?":
        ["how", "mani", "civilian", "were", "kill", "bucha", "after", "russian", "withdraw"],
    "Ukraine’s forces received HIMARS launchers and Patriot batteries; Biden’s visit to Kyiv.":
        ["ukrain", "forc", "receiv", "himar", "launcher", "patriot", "batteri", "biden", "visit", "kyiv"],
}


@pytest.mark.parametrize("text", list(PINNED))
def test_english_stems_are_unchanged(text: str) -> None:
    assert QuestionTokenizer().stems(text) == PINNED[text]


def test_english_passages_score_as_before_beside_cyrillic_ones() -> None:
    """English rows score exactly as in an English-only build: a Cyrillic row adds terms of its
    own, and changes the English rows' scores only through the passage count and mean length,
    as any passage would."""
    english = ["Kyiv received HIMARS launchers.", "Troops moved towards Kharkiv.", "Grain left Odesa."]
    both = Bm25Builder(1.2, 0.75)
    both.add([1, 2, 3, 4], [*english, "Ракети HIMARS передали Україні."])
    padded = Bm25Builder(1.2, 0.75)
    padded.add([1, 2, 3, 4], [*english, "Rockets xyzzy passed quux."])  # same length, no shared stem
    tokenizer = QuestionTokenizer()
    matrix_both, matrix_padded = both.finish(), padded.finish()
    for question in ("launchers", "troop movements near Kharkiv", "grain"):
        stems = tokenizer.stems(question)
        assert matrix_both.scores(stems)[:3].tolist() == matrix_padded.scores(stems)[:3].tolist()
