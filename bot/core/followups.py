"""What a chat message is, before it is searched: small talk, "tell me more", a follow-up
that leans on the previous question, or a question that stands on its own.

The rules are few and visible, so an admin reading `ask --explain` (which shows the resolved
question) can tell why a message was read the way it was:

- **Small talk**: a message made only of greetings, thanks or a request for help (English,
  Ukrainian, Russian; "/start" too) is answered with the help text or a polite line, never
  searched.
- **Greeting in front**: "hi, how many troops...?" is asked without the "hi".
- **More**: "more", "tell me more", "go on", "continue"... continue the previous answer.
- **Follow-up**: a message leans on the previous question when it starts with a connector
  ("and", "what about", "how about", "but", "so") followed by a few words or by words that
  name nothing, is only a question word ("why?", "how
  many?"), says "it" or "they" of nothing in it (at most `REFERRING_WORDS` words: "what did
  Russia say it was aiming at?"), or is short (at most `SHORT_WORDS` words), names nothing (no
  capitalised name or number) and has at most one content word, a pronoun or "the" ("who was
  responsible?", "is it safe?", "who wrote the report?"). Anything else stands on its own and
  is never rewritten.
- **Resolution**: "and X?" / "what about X?" with X a name or short noun phrase replaces the
  first name of the previous question with X (or adds X when it names none); a bare "why",
  "when", "where" or "how" replaces the previous question's own when that is one of these four
  followed by "did", "is"... ("when?" after "Why did the US allow ATACMS?" is "When did the US
  allow ATACMS?"); any other follow-up is asked together with the previous question ("why:
  What is the latest on Kherson?", "who was responsible: What happened in Bucha?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

SHORT_WORDS = 6
REFERRING_WORDS = 10  # a message this short that says "it" or "they" of nothing in it leans on the previous


class SmallTalk(Enum):
    GREETING = "greeting"
    THANKS = "thanks"
    HELP = "help"


_GREETINGS = {"hi", "hello", "hey", "hiya", "yo", "good morning", "good afternoon", "good evening",
              "greetings", "привіт", "вітаю", "добрий день", "привет", "здравствуйте", "здравствуй",
              "добрый день", "hello there", "hi there", "hey there"}
_THANKS = {"thanks", "thank you", "thx", "ty", "cheers", "thanks a lot", "thank you very much",
           "many thanks", "great thanks", "ok thanks", "дякую", "спасибо", "спасибі", "благодарю",
           "дуже дякую", "большое спасибо"}
_HELP = {"help", "/help", "/start", "start", "допомога", "помощь", "допоможіть", "помогите",
         "what can you do", "who are you", "how does this work", "menu"}
_MORE = {"more", "tell me more", "go on", "continue", "more please", "please tell me more",
         "anything else", "what else", "keep going", "and more", "more details", "any more",
         "anything more", "ще", "більше", "еще", "ещё", "подробнее", "детальніше"}
_POLITE = {"please", "bot", "pls", "thanks", "thank you", "ok", "okay"}

_WH = ("how many", "how much", "how long", "how often", "how far", "what", "why", "when",
       "where", "who", "whom", "whose", "which", "how")
_ADVERBIAL = {"why", "when", "where", "how"}  # stand apart from the clause: one swaps for another
_AUX = {"did", "does", "do", "is", "are", "was", "were", "has", "have", "had", "will", "would",
        "can", "could", "should", "may", "might"}
_CONNECTORS = ("and what about", "what about", "how about", "and how about", "what of", "and",
               "but", "so", "also", "then")
_FILLER = {"then", "exactly", "so", "again", "now", "though", "really", "that"}
_PRONOUNS = {"it", "its", "this", "that", "they", "them", "their", "he", "him", "his", "she",
             "her", "these", "those", "there", "then"}
_THING_PRONOUNS = {"it", "its", "they", "them", "their"}
_STOPWORDS = frozenset(
    """a an the of in on at to for from by with about into over after before and or but if
    than so as is are was were be been being do does did doing have has had what which who whom
    whose when where why how many much here i me my we our you your can could would should will
    shall may might must not no any some all most more less very just also still even only
    ever again up down out off happen happened happening""".split()
) | _PRONOUNS
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)


def _normal(text: str) -> str:
    """Lower case, punctuation and emoji gone, one space between words."""
    return " ".join(w.lower() for w in _WORD.findall(text))


def small_talk(text: str) -> SmallTalk | None:
    """The kind of small talk a message is, or None when it asks (or says) anything else."""
    words = _normal(text)
    if text.strip().lower() in {"/start", "/help", "?"}:
        return SmallTalk.HELP
    for phrase in sorted(_POLITE, key=len, reverse=True):  # "hello bot", "help please"
        if words not in _THANKS:
            words = re.sub(rf"(^| ){re.escape(phrase)}($| )", " ", words).strip()
    if not words:  # "thanks!", "ok thanks", "please"
        return SmallTalk.THANKS if _normal(text) else None
    for kind, phrases in ((SmallTalk.GREETING, _GREETINGS), (SmallTalk.THANKS, _THANKS),
                          (SmallTalk.HELP, _HELP)):
        if words in phrases:
            return kind
    return None


def without_greeting(text: str) -> str:
    """The message without a greeting in front ("hi, how many troops...?" -> "how many
    troops...?"): the greeting is not part of the question and would only dilute the search."""
    stripped = text.lstrip()
    lowered = stripped.lower()
    for phrase in sorted(_GREETINGS, key=len, reverse=True):
        if lowered.startswith(phrase) and len(stripped) > len(phrase) and not stripped[len(phrase)].isalnum():
            rest = stripped[len(phrase):].lstrip(" ,.!:;—–-\t")
            if rest:
                return rest
    return text


def asks_for_more(text: str) -> bool:
    """Whether the message only asks to continue the previous answer."""
    return _normal(text) in _MORE


@dataclass(frozen=True)
class Reading:
    """How a message was read against a previous question (`rule` names the rule applied)."""

    question: str  # what to search
    topic: str  # what later follow-ups resolve against
    rule: str  # "standalone", "substitution", "question word", "joined"


def _strip_question_mark(text: str) -> str:
    return text.strip().rstrip("?!.… ").strip()


def _leading(words: list[str], phrases: tuple[str, ...]) -> str | None:
    """The longest phrase of `phrases` that the lower-cased `words` start with."""
    joined = " ".join(words)
    for phrase in sorted(phrases, key=len, reverse=True):
        if joined == phrase or joined.startswith(phrase + " "):
            return phrase
    return None


def _names(tokens: list[str]) -> list[tuple[int, int]]:
    """Runs of capitalised tokens (names: "North Korea", "US", "ATACMS") as (first, end)
    token positions; the first token counts only when it is not a question word."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for i, token in enumerate(tokens + [""]):
        capital = bool(token) and token[0].isupper() and not (i == 0 and token.lower() in _WH + tuple(_AUX))
        if capital and start is None:
            start = i
        elif not capital and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _content_words(words: list[str]) -> list[str]:
    return [w for w in words if w not in _STOPWORDS and len(w) > 1 and not w.isdigit()]


def leans_on_previous(text: str) -> bool:
    """Whether `text` is a follow-up (see the module's rules)."""
    tokens = _WORD.findall(text)
    words = [t.lower() for t in tokens]
    if not words:
        return False
    connector = _leading(words, _CONNECTORS)
    if connector is not None and len(words) > len(connector.split()):
        rest = tokens[len(connector.split()):]
        return len(rest) <= SHORT_WORDS or not _names(rest)  # "so how many troops did North Korea send?" stands
    if _bare_question_word(words) is not None:
        return True
    if len(words) <= REFERRING_WORDS and _refers_back(words):
        return True
    if len(words) > SHORT_WORDS:
        return False
    if _names(tokens) or any(ch.isdigit() for ch in text):
        return False
    return len(_content_words(words)) <= 1 or "the" in words or any(w in _PRONOUNS for w in words)


def _refers_back(words: list[str]) -> bool:
    """"it", "they", "them"... that nothing in the message can stand for: "what did Russia say
    it was aiming at?", "why does Ukraine need it?". A person's pronoun ("did Zelensky say he
    would resign?") may stand for the name beside it, so only a message without a name counts
    it (the short rule); nor does the "it" of "is it safe to...?" or "it is true that..."."""
    if words[:2] in (["is", "it"], ["was", "it"], ["isn't", "it"], ["wasn't", "it"]):
        words = words[2:]
    for i, word in enumerate(words):
        if word in _THING_PRONOUNS and not (word == "it" and words[i + 1 : i + 2] == ["is"]):
            return True
    return False


def _bare_question_word(words: list[str]) -> str | None:
    """"why", "how many", "when exactly"...: the question word, when that is all there is."""
    wh = _leading(words, _WH)
    if wh is None:
        return None
    rest = words[len(wh.split()):]
    return wh if all(w in _FILLER for w in rest) else None


def resolve(text: str, topic: str) -> Reading:
    """Read `text` against the previous question `topic` (see the module's rules)."""
    if not leans_on_previous(text):
        return Reading(text, text, "standalone")
    tokens = _WORD.findall(text)
    words = [t.lower() for t in tokens]
    previous = _strip_question_mark(topic)
    wh = _bare_question_word(words)
    if wh is not None:
        return Reading(_swap_question_word(wh, previous), topic, "question word")
    connector = _leading(words, _CONNECTORS)
    rest_tokens = tokens[len(connector.split()):] if connector else tokens
    rest_words = [t.lower() for t in rest_tokens]
    if connector and rest_tokens and _leading(rest_words, _WH) is None and not (set(rest_words) & _AUX):
        replaced = _substitute(previous, " ".join(rest_tokens))
        return Reading(replaced, replaced, "substitution")
    asked = _strip_question_mark(" ".join(rest_tokens) if connector else text)
    return Reading(f"{asked}: {previous}?", topic, "joined")


def _swap_question_word(wh: str, previous: str) -> str:
    """"When" + "Why did the US allow ATACMS" -> "When did the US allow ATACMS?"."""
    tokens = previous.split()
    words = [t.lower() for t in tokens]
    old = _leading(words, _WH)
    if old in _ADVERBIAL and wh in _ADVERBIAL:
        rest = tokens[len(old.split()):]
        if rest and rest[0].lower() in _AUX:
            return f"{wh.capitalize()} {' '.join(rest)}?"
    return f"{wh}: {previous}?"


def _substitute(previous: str, new: str) -> str:
    """The previous question with its first name replaced by `new` (or `new` added)."""
    tokens = previous.split()
    bare = [_WORD.findall(t)[0] if _WORD.findall(t) else t for t in tokens]
    runs = _names(bare)
    if not runs:
        return f"{previous} {new}?"
    first, end = runs[0]
    if first > 0 and tokens[first - 1].lower() == "the":  # "the US" -> "Biden"; "the Kremlin" brings its own
        first -= 1
    return " ".join(tokens[:first] + [new] + tokens[end:]) + "?"
