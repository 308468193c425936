"""Which stemmer each word gets: by script, and for Cyrillic by the language of the whole text."""

from __future__ import annotations

from knowledge.language import Language
from knowledge.stemming import (
    RUSSIAN_STOP_WORDS,
    UKRAINIAN_STOP_WORDS,
    cyrillic_language,
    cyrillic_stemmer,
    is_cyrillic_word,
    joined_apostrophes,
)


def test_the_language_of_the_cyrillic_words_is_decided_for_the_whole_text() -> None:
    assert cyrillic_language("Kyiv was shelled overnight.") is None
    assert cyrillic_language("Ракети HIMARS передали Україні.") is Language.UK
    assert cyrillic_language("Системы HIMARS передали Украине.") is Language.RU
    # An English text quoting Ukrainian: the quote is judged by itself.
    assert cyrillic_language("Crowds in Kyiv chanted «Слава Україні» as NATO leaders met in Vilnius today.") is Language.UK


def test_russian_words_get_snowball_russian() -> None:
    russian = cyrillic_stemmer(Language.RU)
    assert russian("погибли") == russian("погибло") and russian("буче") == russian("буча")
    assert russian("ёлка") == russian("елка")


def test_apostrophes_join_only_cyrillic_letters() -> None:
    assert joined_apostrophes("Об'єкт, п’ять і Придністровʼя") == "Обєкт, пять і Придністровя"
    english = "Ukraine's army, don’t 'quote' Київ's"
    assert joined_apostrophes(english) == english


def test_stop_lists_hold_function_words_only() -> None:
    assert {"і", "у", "на", "що", "скільки"} <= UKRAINIAN_STOP_WORDS
    assert {"и", "в", "на", "что", "сколько"} <= RUSSIAN_STOP_WORDS
    assert not {"буча", "війна", "ракета", "люди"} & UKRAINIAN_STOP_WORDS
    assert not {"буча", "война", "ракета", "люди"} & RUSSIAN_STOP_WORDS


def test_a_latin_word_with_a_cyrillic_look_alike_stays_english() -> None:
    assert is_cyrillic_word("Бучі") and is_cyrillic_word("обєкт")
    assert not is_cyrillic_word("Defenсe") and not is_cyrillic_word("HIMARS")
    assert cyrillic_language("Ministry of Defenсe statement") is None  # English throughout, as before
