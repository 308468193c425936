"""What kind of answer a question asks for, and which sentences have that kind of content.

"How many were killed?" is answered by a sentence with a number, "when" by one with a date,
"why" by one that gives a reason. The type only lifts such sentences in the ranking
(`type_bonus`); it never filters, because a sentence without the cue may still be the best
answer there is. "Is it true that ...?" is searched without its prefix (the words "is it true"
match nothing useful) and prefers fact checks; "what is the latest on X" prefers the newest
source (see `bot.core.quote_selection`).

All patterns are compiled once at import: they run on every candidate sentence of every answer.
"""

from __future__ import annotations

import re
from enum import Enum


class QuestionType(str, Enum):
    HOW_MANY = "how many"
    WHEN = "when"
    WHO = "who"
    WHY = "why"
    IS_IT_TRUE = "is it true"
    LATEST = "latest"
    OTHER = ""


# Checked in this order: "Is it true that 300 died?" is a fact check before it is a number.
_TYPES: list[tuple[QuestionType, re.Pattern[str]]] = [
    (QuestionType.IS_IT_TRUE, re.compile(
        r"^\s*(?:is it (?:true|correct|right|a fact)|is it a (?:lie|myth|fake)|fact[- ]?check|"
        r"did .{0,40}\breally\b|is .{0,60}\breally (?:true|happening)\b)", re.IGNORECASE)),
    (QuestionType.LATEST, re.compile(
        r"\b(?:latest|newest|most recent|recent news|any news|news on|update on|updates on|"
        r"what(?:'s| is) happening (?:now|today)|current situation)\b", re.IGNORECASE)),
    (QuestionType.HOW_MANY, re.compile(
        r"\b(?:how (?:many|much|long|far|big|large|often)|what (?:number|percentage|share|amount)|"
        r"number of|death toll|toll)\b", re.IGNORECASE)),
    (QuestionType.WHY, re.compile(r"\b(?:why|what (?:caused|prompted|led to)|for what reason|"
                                  r"how come)\b", re.IGNORECASE)),
    (QuestionType.WHEN, re.compile(r"\b(?:when|what (?:date|day|year|month|time)|since when)\b",
                                   re.IGNORECASE)),
    (QuestionType.WHO, re.compile(r"\b(?:who|whom|whose|which (?:country|countries|person|people|"
                                  r"leader|general|official|organi[sz]ation|group|unit))\b", re.IGNORECASE)),
]

# "Is it true that", "is it true", "fact check:" in front of the claim to check.
_TRUE_PREFIX = re.compile(
    r"^\s*(?:is it (?:true|correct|right|a fact)|is it a (?:lie|myth|fake)|fact[- ]?check)"
    r"\s*(?:that\b|[:,-])?\s*", re.IGNORECASE)

_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
                 r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|"
                 r"billions?|dozens?|tens of|a dozen|half|third|quarter|double|twice|several hundred")
_QUANTITY = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b|%|\bper ?cent\b", re.IGNORECASE)
_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November|December|"
           r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec")
_DATE = re.compile(
    rf"\b(?:{_MONTHS})\b|\b(?:1[89]|20)\d\d\b|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday|yesterday|today|tonight|last (?:week|month|year|night)|this (?:week|month|"
    r"year|morning)|earlier this|days? (?:ago|later|before)|weeks? (?:ago|later|before))\b|"
    r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b")
_NOT_QUANTITIES = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b|\b(?:{_MONTHS})\.?\s+\d{{1,2}}\b|\b(?:1[89]|20)\d\d\b|"
    r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b")
# A capitalised word after the first one: a name in an English sentence (Cyrillic too).
_NAME = re.compile(r"(?<=[\w,;:)’'\"”] )[A-ZА-ЯЁЄІЇҐ][\w’'-]+")
_REASON = re.compile(
    r"\b(?:because|since|after|in response to|in retaliation|prompt(?:ed|ing)?|due to|as a result|"
    r"following|owing to|reason|so that|in order to|aim(?:ed)? to|to (?:deter|counter|stop|prevent|"
    r"respond)|amid|caused|led to|triggered|spurred)\b", re.IGNORECASE)


def classify(question: str) -> QuestionType:
    """The first matching type; `OTHER` when the question asks for nothing in particular. A
    follow-up joined to the question it leans on ("who did it: How many prisoners died at
    Olenivka?", see `bot.core.followups`) is of the follow-up's type when it has one."""
    head, joined, _ = question.partition(": ")
    if joined:
        kind = _first_type(head)
        if kind is not QuestionType.OTHER:
            return kind
    return _first_type(question)


def _first_type(text: str) -> QuestionType:
    for kind, pattern in _TYPES:
        if pattern.search(text):
            return kind
    return QuestionType.OTHER


def searchable_question(text: str) -> str:
    """The question as it should be searched: "Is it true that Russia shelled Bucha?" ->
    "Russia shelled Bucha?". Anything else is returned unchanged."""
    stripped = _TRUE_PREFIX.sub("", text, count=1).strip()
    if stripped == text.strip() or len(stripped.split()) < 2:
        return text
    return stripped[0].upper() + stripped[1:]


def has_quantity(sentence: str) -> bool:
    """A number of something: dates and clock times ("21 April", "2022", "04.52") do not count."""
    return _QUANTITY.search(_NOT_QUANTITIES.sub(" ", sentence)) is not None


def has_date(sentence: str) -> bool:
    return _DATE.search(sentence) is not None


def has_name(sentence: str) -> bool:
    return _NAME.search(sentence) is not None


def has_reason(sentence: str) -> bool:
    return _REASON.search(sentence) is not None


# Per type: the cue a sentence should have, the bonus it earns, and the reason shown for it.
_CUES = {
    QuestionType.HOW_MANY: (has_quantity, "has a quantity"),
    QuestionType.WHEN: (has_date, "has a date"),
    QuestionType.WHO: (has_name, "names someone"),
    QuestionType.WHY: (has_reason, "gives a reason"),
}

TYPE_BONUS = 0.06  # on a ranking of cosines ~0.3-0.8: enough to break near-ties, not to lift a poor match


def type_bonus(kind: QuestionType, sentence: str) -> tuple[float, str]:
    """(bonus, reason) of `sentence` for a question of type `kind`; (0, "") without the cue."""
    cue = _CUES.get(kind)
    if cue is None or not cue[0](sentence):
        return 0.0, ""
    return TYPE_BONUS, cue[1]
