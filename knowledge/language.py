"""Which of the community's languages a text is written in: English, Ukrainian or Russian.

The bot answers in the asker's language and stems each passage by its own, so this runs on
every question and every passage; it must be offline and cheap. The script decides most
texts at once (no Cyrillic letter: English; a letter only Ukrainian or only Russian has:
that language). Only Cyrillic text without such a letter ("Хто винен?", "Де Херсон?")
goes to lingua's statistical models, restricted to Ukrainian and Russian, because those two
are the pair that is easy to confuse and costly to get wrong.

A platform's language setting (Telegram's `language_code`, Discord's `locale`) is a hint,
not the truth: people keep their phone in one language and write in another. It only breaks
a tie that the text itself leaves open.
"""

from __future__ import annotations

import re
import threading
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector


class Language(StrEnum):
    """A language the bot speaks; the value is the ISO 639-1 code used in catalogues."""

    EN = "en"
    UK = "uk"
    RU = "ru"


DEFAULT_LANGUAGE = Language.EN

# Letters one of the two Cyrillic languages has and the other has not.
_UKRAINIAN_ONLY = frozenset("іїєґІЇЄҐ")
_RUSSIAN_ONLY = frozenset("ыэёъЫЭЁЪ")
# Below this confidence lingua's verdict on a short text is a coin toss; a hint wins then.
_CONFIDENT = 0.65
_WORD = re.compile(r"[^\W\d_]+")

_detector: LanguageDetector | None = None
_detector_lock = threading.Lock()


def _lingua() -> LanguageDetector:
    """The Ukrainian/Russian detector, built once (about 0.3 s and 100 MB) on first need."""
    global _detector
    with _detector_lock:
        if _detector is None:
            from lingua import Language as LinguaLanguage
            from lingua import LanguageDetectorBuilder

            _detector = (
                LanguageDetectorBuilder.from_languages(LinguaLanguage.UKRAINIAN, LinguaLanguage.RUSSIAN)
                .with_preloaded_language_models()
                .build()
            )
        return _detector


def language_from_hint(hint: str | None) -> Language | None:
    """A platform locale ("uk", "ru-RU", "en-GB", "be") as one of ours, or None."""
    if not hint:
        return None
    code = hint.strip().lower().replace("_", "-").split("-")[0]
    try:
        return Language(code)
    except ValueError:
        return None


def _cyrillic_language(text: str, hint: Language | None) -> Language:
    """Ukrainian or Russian for a text written (mostly) in Cyrillic."""
    ukrainian = sum(1 for ch in text if ch in _UKRAINIAN_ONLY)
    russian = sum(1 for ch in text if ch in _RUSSIAN_ONLY)
    if ukrainian and not russian:
        return Language.UK
    if russian and not ukrainian:
        return Language.RU
    values = _lingua().compute_language_confidence_values(text)
    best = values[0]
    guess = Language.UK if best.language.name == "UKRAINIAN" else Language.RU
    if best.value < _CONFIDENT and hint in (Language.UK, Language.RU):
        return hint
    return guess


def detect_language(text: str, hint: str | None = None) -> Language | None:
    """The language of `text`, or None when it has no letters to judge by.

    Words are counted by script, so a Ukrainian question that names HIMARS stays Ukrainian
    and an English one quoting «Слава Україні» stays English. Latin script counts as English: the bot speaks no other Latin-script language, and an
    English answer is the most useful one to a French or German speaker. `hint` is a
    platform locale; it decides only between Ukrainian and Russian when the text does not.
    """
    cyrillic = latin = 0
    for word in _WORD.findall(text):
        if any("\u0400" <= ch <= "\u04ff" for ch in word):
            cyrillic += 1
        elif not (len(word) > 1 and word.isupper()):  # HIMARS, NATO: names, not language
            latin += 1
    if not cyrillic and not latin:
        return language_from_hint(hint)
    if cyrillic > latin:
        return _cyrillic_language(text, language_from_hint(hint))
    return Language.EN


def reply_language(text: str, hint: str | None = None) -> Language:
    """The language to answer `text` in: its own, else the hint's, else English."""
    return detect_language(text, hint) or language_from_hint(hint) or DEFAULT_LANGUAGE
