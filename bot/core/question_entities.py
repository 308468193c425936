"""The places, people and organisations a question names, and whether a text mentions them.

"How many were killed in Bucha?" must not be answered with a sentence about Kreminna, however
close its wording: the quoted span has to be about Bucha (`bot.core.place_setting`). Names are
found by their shape: capitalised words that do not open the question (the first word is capitalised anyway),
runs of them joined ("Joe Biden", "North Korea"), acronyms anywhere ("NATO", "ATACMS", "NK"
also found as "North Korean"), in Latin or Cyrillic script. A text mentions a name when a word of it starts with the name's
stem, so "Ukraine's", "Zelenskyy" (for "Zelensky"), "Korean" (for "Korea") and the Ukrainian
and Russian case endings ("Бучі" for "Буча") all count. Only a name after "in", "to", "at"...
that the gazetteer (`knowledge.gazetteer`) knows is a place: "talking to Putin" names a person.

A few names are the background of the whole knowledge base (Ukraine, Russia...): a question
that names them and something else is about the something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from knowledge.gazetteer import Place, gazetteer

# Capitalised words that are not names: question words, pronouns, months, days, titles.
_NOT_NAMES = frozenset("""
i what who whom whose which when where why how is are was were do does did can could will would
should shall may might must has have had tell give show list explain describe please and or but
the a an in on at of to for from by with about after before since during this that these those
it its he she they we you my your our their his her there here any some all
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
mr mrs ms dr president minister prime general governor mayor
""".split())
BACKGROUND = frozenset("""
ukraine ukraine's ukrainian ukrainians russia russia's russian russians war
україна україни україні україну росія росії росію украина украины россия россии
""".split())

_WORD = re.compile(r"[^\W\d_](?:[\w’'\-]|\.(?=\w))*")
_POSSESSIVE = ("’s", "'s", "’", "'")
# Endings dropped to reach a stem that inflected and derived forms share ("Korean" -> "Kore").
_SUFFIXES = ("ians", "ian", "eans", "ean", "ans", "an", "ese", "ish")
_VOWELS = frozenset("aeiouyаяеєиіїоуюыйьъэё")
_MIN_STEM = 4
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# "Kyiv" in "the Kyiv Independent reports" names a newspaper, not the city: a mention followed
# by another capitalised word is part of a longer name, unless that word says what kind of
# place it is ("Kharkiv Oblast").
_NOT_PART_OF_A_LONGER_NAME = (r"(?![’'-]?\s+(?!(?:Oblast|Region|Province|Raion|District|City|Town|"
                              r"Village|Airport|Port|Bay|River|Island)\b)[A-Z][a-z])")
# What may follow a form of a name: an inflection in lower case ("Kyivan", "Бучі"), not another
# letter of a longer word ("KyivIndependent"); after an acronym, nothing word-like at all.
_INFLECTION = re.compile(r"(?:[^\W\d_](?<![A-ZА-ЯЁЄІЇҐ]))*(?!\w)")
_ACRONYM_ENDING = re.compile(r"(?!\w|\.\w)")
_LONGER_NAME = re.compile(_NOT_PART_OF_A_LONGER_NAME)
_WH = ("which", "what")
_AFTER_PLACE = frozenset("last now today yesterday recently so still currently right this week".split())
_LOCATIVE = ("in", "to", "at", "on", "from", "near", "around", "into", "outside", "inside",
             "в", "у", "на", "під", "под", "біля", "около")
_DEMONYM_ENDINGS = ("ian", "ians", "ean", "eans", "can", "cans", "uan", "uans", "ese", "ish", "ch", "ern")
_RUN_BREAK = re.compile(r"[,;:?!()\"“”«».]")
_SENTENCE_END = re.compile(r"[.?!]\s*$")
_NOT_PLACES = frozenset("""
week day days weekend awards award festival cup games olympics championship championships open
summit conference show prize league party committee house senate parliament congress commons
council assembly court expo fair marathon tour series election elections
""".split())
_NUMBERED = re.compile(r"\.?\s+(?:of\s+)?\d")
# Spellings and adjectives of the same place that share no stem: a question may say "Britain"
# where the report says "UK" or "British", "Kiev" where it says "Kyiv".
_VARIANTS: dict[str, tuple[str, ...]] = {
    "kiev": ("Kyiv",), "kyiv": ("Kiev",), "kharkov": ("Kharkiv",), "kharkiv": ("Kharkov",),
    "odessa": ("Odesa",), "odesa": ("Odessa",), "lvov": ("Lviv",), "lviv": ("Lvov",),
    "nikolaev": ("Mykolaiv",), "mykolaiv": ("Nikolaev",), "zaporozhye": ("Zaporizhzhia",),
    "zaporizhzhia": ("Zaporozhye",),
    "britain": ("UK", "British", "England", "English"), "uk": ("Britain", "British", "England", "English"),
    "england": ("English", "Britain", "British", "UK"), "america": ("US", "American"),
    "greece": ("Greek",), "france": ("French",), "netherlands": ("Dutch", "Holland"),
    "holland": ("Dutch", "Netherlands"), "switzerland": ("Swiss",), "sweden": ("Swedish", "Swede"),
    "finland": ("Finnish", "Finn"), "poland": ("Polish", "Pole"), "denmark": ("Danish", "Dane"),
    "spain": ("Spanish",), "turkey": ("Turkish", "Türkiye"), "ireland": ("Irish",),
    "wales": ("Welsh",), "scotland": ("Scottish", "Scots"), "norway": ("Norwegian",),
    "belarus": ("Belarusian",), "moldova": ("Moldovan",), "georgia": ("Georgian",),
}


def _inside_quotes(text: str, position: int) -> bool:
    """An odd number of quotation marks stands before `position` (typographic pairs counted
    as opened minus closed)."""
    before = text[:position]
    return before.count('"') % 2 == 1 or before.count("“") > before.count("”")


def _without_possessive(word: str) -> str:
    for suffix in _POSSESSIVE:
        if word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _stem(word: str) -> str:
    stem = _without_possessive(word)
    if stem.isupper():  # acronyms are matched whole
        return stem
    for suffix in _SUFFIXES:
        if stem.lower().endswith(suffix) and len(stem) - len(suffix) >= _MIN_STEM:
            stem = stem[: -len(suffix)]
            break
    shortest = _MIN_STEM - 1 if _CYRILLIC.match(stem) else _MIN_STEM  # case endings: Буча, Бучі, Бучу
    while len(stem) > shortest and stem[-1].lower() in _VOWELS:
        stem = stem[:-1]
    return stem


def _word_pattern(stem: str) -> str:
    """The stem with its capital kept ("Crimea" is not "crime") and the rest in any case."""
    return re.escape(stem[0]) + "(?i:" + re.escape(stem[1:]) + ")" if len(stem) > 1 else re.escape(stem)


@dataclass(frozen=True)
class Entity:
    """A name from the question; `pattern` finds it (or its inflections) in a text."""

    name: str
    forms: tuple[re.Pattern[str], ...]  # the ways the name is written, each on its own
    background: bool = False
    optional: bool = False  # sets the scene ("which US state", "the Dutch regulator"): not required
    place: bool = False  # after "in", "to", "on", "at"... and a known place: the answer must be about it
    where: Place | None = None  # what the gazetteer knows of a place (the country it lies in)
    acronym: bool = False

    def found_in(self, text: str) -> bool:
        """A form of the name, continued only by an inflection ("Kyivan", "Бучі") and not by
        another capitalised word ("Kyiv Independent"). The forms are small patterns and the
        shared tail is checked by constant ones: compiling one pattern per name with the tail
        inside took a millisecond of every answer."""
        ending = _ACRONYM_ENDING if self.acronym else _INFLECTION
        for form in self.forms:
            position = 0
            while (found := form.search(text, position)) is not None:
                tail = ending.match(text, found.end())
                if tail is not None and _LONGER_NAME.match(text, tail.end()) is not None:
                    return True
                position = found.start() + 1
        return False


@lru_cache(maxsize=4096)
def _compiled(form: str) -> re.Pattern[str]:
    """Names come back question after question (Kyiv, Russia, Biden)."""
    return re.compile(form)


def _entity(words: list[str], optional: bool = False, place: bool = False) -> Entity:
    name = " ".join(words[:-1] + [_without_possessive(words[-1])])
    stems = [_stem(w) if w != "of" else w for w in words]
    acronym = all(w.isupper() for w in words)
    # A run of words is found whole (its later words in any case: "Super Bowl halftime show")
    # or by its last word ("Biden" for "Joe Biden"); a short acronym also by the words it
    # abbreviates ("NK": "North Korean", "UN": "United Nations").
    forms = [r"\s+".join([_word_pattern(stems[0])] + ["(?i:" + re.escape(s) + ")" for s in stems[1:]])]
    if len(words) > 1 and len(stems[-1]) >= _MIN_STEM:
        forms.append(_word_pattern(stems[-1]))
    capitals = [w[0] for w in words if w[0].isupper()]
    if len(capitals) >= 2 and not acronym:  # "United States": "US", "U.S."; "European Union": "EU"
        forms.append(r"\.?".join(capitals) + r"\.?(?![\w.])")
    if len(words) == 1:
        for variant in _VARIANTS.get(_without_possessive(words[0]).lower(), ()):
            forms.append(re.escape(variant) + r"(?!\w)" if variant.isupper() else _word_pattern(_stem(variant)))
    if acronym and len(words) == 1 and 2 <= len(stems[0]) <= 4 and stems[0].isalpha():
        forms.append(r"\s+".join(re.escape(letter) + r"[a-z]+" for letter in stems[0]))
    compiled = tuple(_compiled(r"(?<!\w)" + form) for form in forms)
    background = all(w.lower() in BACKGROUND for w in words)
    # A nationality ("Dutch regulator", "Central American country") or a short acronym ("UK
    # supermarket", "US market") sets the scene rather than naming what the answer is about.
    last = _without_possessive(words[-1])
    scene = last.lower().endswith(_DEMONYM_ENDINGS) or (acronym and len(words) == 1 and len(last) <= 2)
    where = None
    if place and not (optional or scene):
        # "to Putin", "from Target", "at Stormont": only a name the gazetteer knows is a place.
        where = gazetteer().find(name)
    return Entity(name, compiled, background, optional or scene, where is not None, where, acronym)


def _is_name(word: str, first: bool) -> bool:
    bare = _without_possessive(word)
    if len(bare) < 2 or bare.lower() in _NOT_NAMES:
        return False
    if bare.isupper():  # NATO, UN, ATACMS: wherever they stand
        return True
    return not first and bare[0].isupper()


def question_entities(question: str) -> list[Entity]:
    """The names in `question`, in order, each once."""
    entities: list[Entity] = []
    run: list[str] = []
    after_wh = False  # the run follows "which"/"what" (maybe with one adjective between)
    located = False  # the run follows "in", "to", "at"... (maybe with "the" between)
    quoted = False  # the run stands inside quotation marks: "the showdown on Earth" is a quote's wording

    def close(next_word: str, owner: bool = False, numbered: bool = False) -> None:
        nonlocal run
        if run:
            # "Which US state...?", "which English city...?": the name narrows the thing asked
            # for; the answer names the state or the city, not necessarily the country.
            modifier = after_wh and next_word[:1].islower()
            # "in Bucha?", "to Kyiv last week": a place; "on the Netflix show", "at the
            # Azovstal plant": the name qualifies a thing, which is what the answer is about.
            # "on Crossrail's delayed line", "in India's latest elections": the owner of a thing;
            # "at Euro 2024", "the Group of 7", "No. 10": an event, a body, an address.
            qualifies = owner or numbered or (
                next_word[:1].islower() and next_word.lower() not in _NOT_NAMES | _AFTER_PLACE)
            # "in London Cocktail Week", "in the House": an event or an institution, not a place.
            institution = _without_possessive(run[-1]).lower() in _NOT_PLACES
            entities.append(_entity(run, optional=modifier,
                                    place=located and not (qualifies or institution or quoted)))
            run = []

    matches = list(_WORD.finditer(question))
    previous_end = 0
    recent: list[str] = []
    for n, match in enumerate(matches):
        word, gap = match.group(), question[previous_end : match.start()]
        first = previous_end == 0 or _SENTENCE_END.search(gap) is not None
        previous_end = match.end()
        if run and _RUN_BREAK.search(gap):
            close("")
        following = matches[n + 1].group() if n + 1 < len(matches) else ""
        if _is_name(word, first):
            if not run:
                after_wh = bool(recent) and (recent[-1] in _WH or (
                    len(recent) > 1 and recent[-2] in _WH and recent[-1] not in _NOT_NAMES))
                located = bool(recent) and (recent[-1] in _LOCATIVE or (
                    len(recent) > 1 and recent[-2] in _LOCATIVE and recent[-1] == "the")) \
                    and not re.search(r"\d\s*$", gap)  # "at the 2023 Laureus Awards": an event
                quoted = _inside_quotes(question, match.start())
            run.append(word)
            if word.endswith(_POSSESSIVE):  # "Biden's Ukraine policy": two names
                close("", owner=True)
            elif _NUMBERED.match(question, match.end()):
                close("", numbered=True)
        elif run and word == "of" and following[:1].isupper():  # "University of California"
            run.append(word)
        else:
            close(word)
        recent.append(word.lower())
    close("")
    unique: dict[str, Entity] = {}
    for entity in entities:
        unique.setdefault(entity.name.lower(), entity)
    return list(unique.values())


def required_entities(entities: list[Entity]) -> list[Entity]:
    """The names an answer must be about: the background ones only when nothing else is named,
    never the ones that only set the scene ("which US state")."""
    named = [e for e in entities if not e.optional]
    specific = [e for e in named if not e.background]
    return specific or named


def places(entities: list[Entity]) -> list[Entity]:
    """The names the question asks about as places ("in Bucha", "to Kyiv", "on Kherson"): an
    answer about another place is wrong, so without a passage about them there is no answer.
    Other names (people, organisations, things) are preferred but not insisted on: a quiz's
    evidence often calls them otherwise ("the company", "the singer")."""
    return [e for e in entities if e.place]


def known_places(entities: list[Entity]) -> list[Place]:
    return [e.where for e in entities if e.where is not None]


def mentions_any(entities: list[Entity], *texts: str) -> list[Entity]:
    """The entities found in at least one of `texts`."""
    return [e for e in entities if any(e.found_in(t) for t in texts)]
