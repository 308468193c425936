"""A light Ukrainian stemmer: case, number, gender and tense endings stripped by rule.

Snowball has no Ukrainian algorithm and PostgreSQL no Ukrainian text search config, and the
dictionary lemmatiser that knows Ukrainian well (pymorphy3 with pymorphy3-dicts-uk) is GPLv3
while this project is Apache-2.0, so it may only serve as the yardstick
(benchmarks/quality/ukrainian_stemmer.py). BM25 needs "Буча", "Бучі" and "Бучу" to meet
on one term, not a dictionary form, and a suffix stripper in the manner of Snowball's Russian
does that in microseconds with no data files.

The word is read after its first vowel (Snowball's RV region): an ending is removed only
when it lies wholly there and leaves a stem of at least `MIN_STEM` letters, so short words
and acronyms ("ЗСУ", "ООН") keep their letters. Groups are tried in Snowball's order:
reflexive particle, then adjective, verb and noun endings (the first group that matches
wins, the longest ending within it), then a soft sign. Finally the і/о (е) alternation of
a closed last syllable is undone for the place names and nouns that alternate in every
paradigm ("Харків"/"Харкова", "Львів"/"Львова", "рік"/"року"): the stem takes the open-
syllable form ("харков", "львов", "рок").
"""

from __future__ import annotations

from functools import lru_cache

MIN_STEM = 2
_VOWELS = frozenset("аеєиіїоуюя")
_CONSONANTS = frozenset("бвгґджзйклмнпрстфхцчшщ")


def _longest_first(endings: str) -> tuple[str, ...]:
    return tuple(sorted(set(endings.split()), key=len, reverse=True))


_ADJECTIVE = _longest_first(
    """ого ього ому ьому ьох ими іми ій ий ої ьої ою ьою их іх им ім ая яя ую юю ее єє"""
)
_VERB = _longest_first(
    """ати яти ити іти ути увати ювати ування
    аю аєш ає аємо аєте ають яю яєш яє яємо яєте яють
    ую уєш ує уємо уєте ують юю юєш ює юємо юєте юють
    ить ять уть ють ать ите имо іть імо
    ав ала ало али яв яла яло яли ив ила ило или ув ула уло ули іла іло іли
    ючи учи ачи ячи вши
    тиме тимуть тимемо ймо йте"""
)
_NOUN = _longest_first(
    """ами ями іями ах ях іях ам ям іям ові еві єві ою ею єю ів їв ей ом ем єм ія ії ію ією иє
    а я у ю і ї и е є о ь й"""
)


_POSSESSIVE = ("ов", "ев", "єв")
"""A stem's last suffix that alternates with -ів/-їв: "Харкова" and "Харків", "Києва" and
"Київ" lose the ending and the suffix alike."""


def _region(word: str) -> int:
    """Where Snowball's RV region starts: after the first vowel (the word's length if none)."""
    for index, letter in enumerate(word):
        if letter in _VOWELS:
            return index + 1
    return len(word)


def _strip(word: str, region: int, endings: tuple[str, ...]) -> str | None:
    """`word` without the longest of `endings` that lies in the region and leaves a stem
    long enough, or None when none does."""
    for ending in endings:
        cut = len(word) - len(ending)
        if cut >= max(region, MIN_STEM) and word.endswith(ending):
            return word[:cut]
    return None


def _without_reflexive(word: str, region: int) -> str:
    """The verb without its particle: "-ся" always, "-сь" only after a vowel or "в"
    ("сталось", "взявсь"), since "Білорусь" and "вісь" end so too."""
    if len(word) - 2 < max(region, MIN_STEM):
        return word
    if word.endswith("ся") or (word.endswith("сь") and word[-3] in "аоиів"):
        return word[:-2]
    return word


def _undo_alternation(stem: str) -> str:
    """The open-syllable vowel of a closed last syllable: "харків" -> "харков", "рік" ->
    "рок". Only consonant + і + one consonant at the end, and only in stems of three letters
    or more, so "ліс" and "міст" pair with "лісу" and "мосту" no worse than before."""
    if (len(stem) >= 3 and stem[-2] == "і" and stem[-1] in _CONSONANTS
            and stem[-3] in _CONSONANTS and stem[-1] != "й"):
        return stem[:-2] + "о" + stem[-1]
    return stem


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The stem of one lower-case Ukrainian word (any other word comes back as it is, but for
    endings that happen to match). Never empty for a non-empty word, never longer than it."""
    word = word.replace("ʼ", "").replace("'", "").replace("’", "")
    if len(word) <= MIN_STEM:
        return word
    region = _region(word)
    word = _without_reflexive(word, region)
    for group in (_ADJECTIVE, _VERB, _NOUN):
        stripped = _strip(word, region, group)
        if stripped is not None:
            word = stripped
            break
    if word.endswith("ь") and len(word) > MIN_STEM:
        word = word[:-1]
    if word.endswith(_POSSESSIVE) and len(word) - 2 >= MIN_STEM:
        word = word[:-2]
    return _undo_alternation(word)
