"""The bot's own sentences in the asker's language, from one gettext catalogue.

`bot.core.messages` holds every sentence in English; that English is the gettext message id,
so the code reads the same as before and a missing translation falls back to English rather
than to a blank. The Ukrainian and Russian translations live in
`bot/core/locale/<language>/LC_MESSAGES/crisisbot.po`, the standard format translators'
tools read; Babel (the library behind most Python projects' catalogues) compiles each one in
memory at first use, so a `.po` edit takes effect without a build step and there is no
compiled file to fall out of date.

Quotes never pass through here: they are the sources' words. Only the words around them do.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from pathlib import Path
from typing import Any

from knowledge.documents import Kind
from knowledge.errors import CrisisbotError
from knowledge.language import DEFAULT_LANGUAGE, Language, language_from_hint

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "crisisbot"

log = logging.getLogger(__name__)

# Shown in citations: a source's kind in the reader's words. The English is the stored value,
# as citations have always shown it ("fact-check"), and is the message id of the translations.
KIND_NAMES = {kind: kind.value for kind in Kind}
# A language's name as it ends the sentence QUOTES_IN_LANGUAGE ("...written in {languages}").
LANGUAGE_NAMES = {Language.EN: "English", Language.UK: "Ukrainian", Language.RU: "Russian"}


def catalogue_path(language: Language) -> Path:
    return LOCALE_DIR / language.value / "LC_MESSAGES" / f"{DOMAIN}.po"


def _load(language: Language) -> gettext.NullTranslations:
    """The compiled catalogue of `language`, or English (the message ids) when it has none."""
    path = catalogue_path(language)
    if language is DEFAULT_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as po:
        catalog = read_po(po, locale=language.value, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Phrases:
    """The sentences of one language: `text` for a sentence, `plural` for one with a count."""

    def __init__(self, language: Language, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._translations = translations

    def text(self, message: str, **fields: Any) -> str:
        """`message` (an English constant of `bot.core.messages`) translated, then filled in."""
        translated = self._translations.gettext(message)
        return _fill(translated, message, fields)

    def plural(self, singular: str, plural: str, count: int, **fields: Any) -> str:
        """The form for `count` (Ukrainian and Russian have three); `{count}` is filled in."""
        translated = self._translations.ngettext(singular, plural, count)
        return _fill(translated, singular, {"count": count, **fields})

    def kind(self, kind: Kind) -> str:
        return self.text(KIND_NAMES[kind])

    def language_name(self, language: Language) -> str:
        return self.text(LANGUAGE_NAMES[language])


def _fill(translated: str, message: str, fields: dict[str, Any]) -> str:
    """`translated` with its fields filled in; the English if a translation's fields are wrong.

    A translator's typo (a renamed `{field}`) must cost one sentence its translation, not
    the person their answer; the test of the catalogues keeps this from happening at all."""
    if not fields:
        return translated
    try:
        return translated.format(**fields)
    except (KeyError, IndexError, ValueError):
        log.error("translation of %r has fields that do not match; using English", message)
        return message.format(**fields)


@functools.cache
def phrases(language: Language | str | None = None) -> Phrases:
    """The phrases of `language` (a `Language` or a locale such as "uk-UA"); English by default."""
    chosen = language if isinstance(language, Language) else language_from_hint(language)
    chosen = chosen or DEFAULT_LANGUAGE
    return Phrases(chosen, _load(chosen))


def error_text(error: CrisisbotError, words: Phrases) -> str:
    """What to tell a person about `error`, in `words`' language when the sentence has a
    translation (a rate limit, an empty question), else its message as it was raised."""
    if error.template is None:
        return str(error)
    return words.text(error.template, **error.fields)
