"""Language detection: the script decides what it can, lingua the rest, a hint only ties."""

from __future__ import annotations

import pytest

from knowledge.language import Language, detect_language, language_from_hint, reply_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What happened in Bucha?", Language.EN),
        ("Що сталося в Бучі?", Language.UK),
        ("Что произошло в Буче?", Language.RU),
        ("Скільки загинуло?", Language.UK),
        ("Сколько погибло?", Language.RU),
        ("Чому?", Language.UK),
        ("Почему?", Language.RU),
        ("Кто виноват?", Language.RU),
        ("Привіт", Language.UK),
        ("Привет", Language.RU),
        ("Що далі", Language.UK),
        ("Когда?", Language.RU),
        # A Ukrainian question that names an English thing stays Ukrainian.
        ("Що таке HIMARS і ATACMS?", Language.UK),
        # An English question quoting a Cyrillic name stays English.
        ("What did Zelensky mean by «Слава Україні»?", Language.EN),
    ],
)
def test_detects_the_three_languages(text: str, expected: Language) -> None:
    assert detect_language(text) is expected


def test_a_text_without_letters_has_no_language_of_its_own() -> None:
    assert detect_language("???  123") is None
    assert detect_language("👍", hint="uk") is Language.UK
    assert reply_language("👍") is Language.EN


def test_a_hint_breaks_only_a_tie_between_ukrainian_and_russian() -> None:
    # "А Байден?" is the same in both languages: the platform locale decides.
    assert detect_language("А Байден?", hint="uk-UA") is Language.UK
    assert detect_language("А Байден?", hint="ru") is Language.RU
    # A clear text wins over the hint, whatever the phone is set to.
    assert detect_language("Що сталося в Бучі?", hint="ru") is Language.UK
    assert detect_language("What happened in Bucha?", hint="uk") is Language.EN


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("uk", Language.UK), ("ru-RU", Language.RU), ("en_GB", Language.EN), ("be", None), ("", None), (None, None)],
)
def test_platform_locales_map_to_our_languages(hint: str | None, expected: Language | None) -> None:
    assert language_from_hint(hint) is expected
