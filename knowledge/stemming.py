"""Words to index terms in the community's three languages: which stemmer a word gets.

BM25 (index.bm25), the relevance gate's term shares and PostgreSQL's `lexical` column must all
reduce "Бучі" and "Бучу", or "погибли" and "погибших", to one term, and must go on reducing
English exactly as before (figures and fitted gates rest on those stems). So the rule is by
script, with the language decided once per text:

- a word without Cyrillic letters keeps the Snowball English stemmer and English stop words,
  whatever language the text is in ("HIMARS", "Biden" in a Ukrainian sentence);
- a Cyrillic word gets Snowball Russian or our Ukrainian stemmer (knowledge.ukrainian_stemmer),
  by the language of the whole text (`cyrillic_language`), with that language's stop words.

This sits in knowledge/ because the PostgreSQL store computes a Ukrainian passage's stems when
it writes the row, and knowledge/ may not import index/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from knowledge.language import Language, detect_language
from knowledge.ukrainian_stemmer import stem as ukrainian_stem

if TYPE_CHECKING:
    import Stemmer

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")
_CYRILLIC_WORDS = re.compile(r"\w*[\u0400-\u04ff]\w*")
# An apostrophe inside a Ukrainian word ("об'єкт", "п’ять", "Придністров'я") is part of it:
# without this the word would be read as two.
_INNER_APOSTROPHE = re.compile(r"(?<=[\u0400-\u04ff])['’ʼ`](?=[\u0400-\u04ff])")

UKRAINIAN_STOP_WORDS = frozenset(
    """а аби або але б би бо був буде будуть була були було бути в вам вас весь ви від вже
    вона вони воно все всі всю вся де для до є ж же з за зі і із її їй їм їх їхній й його
    коли кого кому куди лише ми мене мені мій між мо моя на над навіть нам нас не нею ним
    них ні ніж о об однак от по під після при про саме свій своє свої своя себе собі так
    також там те тебе теж ти то тобто того тож той тому ту тут ті тільки у хоча хто це цей
    ци цим ця ці цих цього цю чи чий чого чому що щоб щодо як яка який яке які якого якої
    яких якщо скільки через""".split()
)
RUSSIAN_STOP_WORDS = frozenset(
    """а без более бы был была были было быть в вам вас весь во вот все всё всех вы где да
    даже для до его её ее ей ему если есть еще ещё же за и из или им ими их к как какая
    какие какой когда кого ком кому которая которое которые который кто куда ли лишь меня
    мне мы на над надо не него нее неё нет ни них но ну о об однако он она они оно от по
    под после при про раз с сам свой себя со так также там те тем то тоже только том тот
    ту тут ты у уж уже хотя чего чей чем через что чтобы чье эта эти это этого этой этом
    этот эту я сколько почему зачем""".split()
)


def has_cyrillic(text: str) -> bool:
    return _CYRILLIC.search(text) is not None


def is_cyrillic_word(word: str) -> bool:
    """A word for the Cyrillic stemmer: Cyrillic letters and no Latin one. An English word with
    a Cyrillic look-alike letter in it ("Defenсe" with a Cyrillic "с", as found in official
    statements) stays English."""
    return _CYRILLIC.search(word) is not None and _LATIN.search(word) is None


def cyrillic_language(text: str) -> Language | None:
    """Which stemmer `text`'s Cyrillic words get: Ukrainian, Russian, or None without any.

    The whole text decides, once (a short Cyrillic word alone says little). An English text
    quoting «Слава Україні» is judged by its Cyrillic words alone."""
    if not has_cyrillic(text):
        return None
    words = [word for word in _CYRILLIC_WORDS.findall(text) if is_cyrillic_word(word)]
    if not words:
        return None
    language = detect_language(text)
    if language not in (Language.UK, Language.RU):
        language = detect_language(" ".join(words))
    return language if language in (Language.UK, Language.RU) else Language.RU


def joined_apostrophes(text: str) -> str:
    """`text` with apostrophes inside Cyrillic words removed (only between Cyrillic letters, so
    an English text is never changed)."""
    return _INNER_APOSTROPHE.sub("", text)


def english_stemmer() -> Stemmer.Stemmer:
    """A new Snowball English stemmer: PyStemmer's are not thread-safe, so one per thread."""
    import Stemmer

    return Stemmer.Stemmer("english")


def cyrillic_stemmer(language: Language) -> Callable[[str], str]:
    """A stem function for lower-case Cyrillic words of `language` (Russian or Ukrainian); a
    new one per call for Russian, as PyStemmer's are not thread-safe."""
    if language is Language.UK:
        return ukrainian_stem
    import Stemmer

    return Stemmer.Stemmer("russian").stemWord


def cyrillic_stop_words(language: Language) -> frozenset[str]:
    return UKRAINIAN_STOP_WORDS if language is Language.UK else RUSSIAN_STOP_WORDS
