"""The catalogues: every member-facing sentence in Ukrainian and Russian, with the same fields.

A missing translation falls back to English and a broken one would cost someone an answer,
so the catalogues are checked like code: complete, no unknown message ids, fields that the
code fills in, each language's own alphabet, plural forms that agree with the number.
"""

from __future__ import annotations

import string
from datetime import date

import pytest
from babel.messages.pofile import read_po

from bot.core import messages
from bot.core.answer import Answer, Quote, Source, describe_date
from bot.core.explanation import Explanation
from bot.core.rate_limit import RateLimited
from bot.core.render import language_note, render_markdown, render_plain
from bot.core.translation import KIND_NAMES, LANGUAGE_NAMES, catalogue_path, error_text, phrases
from knowledge.documents import DocumentInfo, Kind
from knowledge.language import Language

TRANSLATED_INTO = (Language.UK, Language.RU)
FOREIGN_LETTERS = {Language.UK: set("ыэёъЫЭЁЪ"), Language.RU: set("іїєґІЇЄҐ")}


def _catalogue(language: Language):  # type: ignore[no-untyped-def]
    with catalogue_path(language).open("rb") as po:
        return read_po(po, locale=language.value)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _known_ids() -> set[str]:
    known: set[str] = set(KIND_NAMES.values()) | set(LANGUAGE_NAMES.values())
    for value in vars(messages).values():
        if isinstance(value, str):
            known.add(value)
        elif isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
            known.add(value[0])
    return known


@pytest.mark.parametrize("language", TRANSLATED_INTO)
def test_every_member_facing_sentence_is_translated(language: Language) -> None:
    catalogue = _catalogue(language)
    wanted = [m if isinstance(m, str) else m[0] for m in messages.TRANSLATED]
    wanted += list(KIND_NAMES.values()) + list(LANGUAGE_NAMES.values())
    missing = [m for m in wanted if (catalogue.get(m) is None or not catalogue.get(m).string
                                     or catalogue.get(m).fuzzy)]
    assert not missing, f"{language.value}: not translated: {missing}"


@pytest.mark.parametrize("language", TRANSLATED_INTO)
def test_the_catalogue_translates_only_sentences_the_code_says(language: Language) -> None:
    known = _known_ids()
    stale = [m.id for m in _catalogue(language) if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in known]
    assert not stale, f"{language.value}: message ids no code uses (reworded in English?): {stale}"


@pytest.mark.parametrize("language", TRANSLATED_INTO)
def test_translations_fill_only_the_fields_the_code_fills(language: Language) -> None:
    for message in _catalogue(language):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        english = set().union(*(_fields(i) for i in ids))
        for translated in strings:
            assert _fields(translated) <= english, (language.value, message.id, translated)
            assert not set(translated) & FOREIGN_LETTERS[language], (language.value, translated)


def test_ukrainian_and_russian_plurals_agree_with_the_number() -> None:
    uk, ru = phrases(Language.UK), phrases(Language.RU)
    assert [uk.plural(*messages.YEARS_AGO, n) for n in (1, 2, 5, 11, 21, 22)] == [
        "1 рік тому", "2 роки тому", "5 років тому", "11 років тому", "21 рік тому", "22 роки тому"]
    assert [ru.plural(*messages.MONTHS_AGO, n) for n in (1, 3, 7, 14, 23)] == [
        "1 месяц назад", "3 месяца назад", "7 месяцев назад", "14 месяцев назад", "23 месяца назад"]
    assert phrases(Language.EN).plural(*messages.DAYS_AGO, 1) == "1 day ago"


def test_dates_are_described_in_the_readers_language_and_stay_iso() -> None:
    today = date(2026, 12, 8)
    assert describe_date("2024-11", today) == "as of 2024-11 (2 years ago)"
    assert describe_date("2024-11", today, phrases("uk")) == "станом на 2024-11 (2 роки тому)"
    assert describe_date("2026-12-05", today, phrases("ru")) == "по состоянию на 2026-12-05 (3 дня назад)"
    assert describe_date(None, today, phrases("uk")) == "дата невідома"


def test_an_unknown_locale_or_a_missing_catalogue_speaks_english() -> None:
    assert phrases("de-DE").text(messages.NO_ANSWER) == messages.NO_ANSWER
    assert phrases(None).language is Language.EN


def test_errors_raised_in_english_are_told_in_the_askers_language() -> None:
    refused = RateLimited(2.4, 5, 60.0)
    assert str(refused).startswith("You have asked 5 questions")
    assert error_text(refused, phrases("uk")) == (
        "Ви досягли ліміту запитань: 5 за 60 с. Зачекайте, будь ласка, 2 с і запитайте знову.")
    assert error_text(refused, phrases("en")) == str(refused)


def _answer(language: Language, quote_text: str) -> Answer:
    document = DocumentInfo(id="d1", title="Turning tides", url="https://example.org/a", publisher="",
                            kind=Kind.ANALYSIS, published="2024-11", language="en", added_by="test",
                            added_at="2024-11-20", passage_count=1)
    quote = Quote(quote_text, 1, 1, 0, len(quote_text), 0.8)
    return Answer("q", [quote], [Source(1, document, 0.8)], 0.8, language=language)


def test_an_answer_to_a_ukrainian_question_says_the_quotes_are_english_and_keeps_them_verbatim() -> None:
    quote = "Biden allowed Ukraine to strike Russia with ATACMS."
    text = render_plain(_answer(Language.UK, quote), date(2026, 12, 8))
    assert quote in text
    assert "мовою оригіналу: англійська" in text
    assert "Джерела:" in text and "видавець невідомий, аналітика, станом на 2024-11 (2 роки тому)" in text
    assert "Источники" in render_markdown(_answer(Language.RU, quote), date(2026, 12, 8))


def test_no_language_line_when_the_quotes_are_in_the_askers_language() -> None:
    assert language_note(_answer(Language.EN, "Biden allowed the strikes.")) is None
    assert language_note(_answer(Language.UK, "Байден дозволив удари.")) is None
    assert "англійською" not in render_plain(_answer(Language.EN, "Biden allowed the strikes."))


def test_no_answer_is_said_in_the_askers_language() -> None:
    assert render_plain(Answer("Що?", language=Language.UK)).startswith("У базі знань немає відповіді")
    assert render_plain(Answer("What?")) == messages.NO_ANSWER


def test_a_question_declined_for_its_language_is_told_so_not_to_rephrase() -> None:
    unread = Explanation(unread_language="ru")
    assert render_plain(Answer("Что?", language=Language.RU, explanation=unread)).startswith(
        "Пока я не могу отвечать на вопросы на русском")
    assert "Please ask in English" in render_plain(Answer("Что?", explanation=unread))
