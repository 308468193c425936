"""Conversations: follow-ups, "tell me more", the More button, and small talk.

Built on `Questions`: every answer is still an ordinary answer of one question (quoted,
cited, logged for votes); what a conversation adds is *which* question. A follow-up is
resolved against the same person's previous question in the same chat
(`bot.core.followups`, `bot.core.conversation_memory`), "tell me more" re-asks the previous
question without the passages already quoted, and greetings, thanks and "help" get a reply
instead of a search.

Where a conversation happens is the adapter's call: it passes a `ConversationKey` (platform,
chat, user) and says whether the message may lean on the previous one (`follow_up`: a private
chat, a reply to the bot, a thread, the terminal) or stands on its own (a group message that
only mentions the bot: it is remembered, so that a reply to its answer can follow up, but
never resolved against earlier questions).

The More button carries only an answer id. Pressing it continues *that answer* for whoever
presses it: its question is re-asked without every passage quoted by it and by the
continuations before it. The core keeps, for each answer id it gave, that question and those
passages (`AnswerTrails`: bounded, expiring, in memory), and the chat it was given in. A
button with an unknown id, one from before a restart, or an id pressed in another chat than
its answer's (forged) continues nothing and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from bot.core.actors import Actor
from bot.core.answer import Answer
from bot.core.conversation_memory import ConversationKey, ConversationMemory, ExpiringLru, Turn
from bot.core.followups import (
    SmallTalk,
    asks_for_more,
    leans_on_previous,
    resolve,
    small_talk,
    without_greeting,
)
from bot.core.messages import MORE_EXPIRED, NOTHING_MORE, NOTHING_TO_CONTINUE, THANKS_REPLY
from bot.core.questions import Questions
from bot.core.translation import phrases
from knowledge.language import DEFAULT_LANGUAGE, Language, language_from_hint, reply_language


@dataclass(frozen=True)
class Notice:
    """A reply that is not an answer: small talk, or nothing (more) to continue.

    `kind` is a `SmallTalk` value ("greeting", "thanks", "help") or "nothing more",
    "nothing to continue", "expired"; adapters render a greeting and "help" as their own
    help text and any other kind as `text`."""

    kind: str
    text: str = ""
    language: Language = DEFAULT_LANGUAGE  # of the message it replies to: the help text's too

    @property
    def wants_help(self) -> bool:
        return self.kind in (SmallTalk.GREETING.value, SmallTalk.HELP.value)


Reply = Answer | Notice
# question, actor, asked_at, admitted, exclude_passages -> Answer (`Questions.ask`'s order)
AskFunction = Callable[[str, Actor | None, date | None, bool, frozenset[int]], Answer]


@dataclass(frozen=True)
class ConversationLimits:
    max_turns: int = 5
    minutes: float = 30.0
    max_keys: int = 10_000
    button_hours: float = 24.0  # how long a More button under an answer keeps working


Place = tuple[str, str]  # (platform, chat) where an answer was given


class AnswerTrails:
    """For each answer id given: its question and the passages quoted so far (by it and the
    continuations it led to), and the chat it was given in; bounded and expiring like the
    memory.

    A trail is found only from the chat its answer was given in: a More button is pressed
    under the answer, so the presser can read that answer's question anyway, while an id
    forged elsewhere (Discord's custom ids are sent by the client) must not show a question
    someone asked in their own DM."""

    def __init__(self, max_keys: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._trails: ExpiringLru[int, tuple[Place | None, Turn]] = ExpiringLru(max_keys, ttl_seconds, clock)

    def record(self, answer_id: int | None, turn: Turn, place: Place | None) -> None:
        if answer_id is not None:
            self._trails.put(answer_id, (place, turn))

    def find(self, answer_id: int, place: Place | None) -> Turn | None:
        found = self._trails.get(answer_id)
        if found is None or found[0] is not None and found[0] != place:
            return None
        return found[1]


def small_talk_reply(text: str, language: Language | None = None) -> Notice | None:
    """The reply to a message that is only a greeting, thanks or a call for help, else None.

    Cheap and pure: adapters (and `crisisbot ask`) call it before admitting a question, in
    every mode, so "hello" is never searched and never refused."""
    kind = small_talk(text)
    if kind is None:
        return None
    language = language or reply_language(text)
    thanks = phrases(language).text(THANKS_REPLY) if kind is SmallTalk.THANKS else ""
    return Notice(kind.value, thanks, language)


class Conversation:
    """One per bot: `reply` to a chat message, `more` for a More button."""

    def __init__(self, questions: Questions, limits: ConversationLimits = ConversationLimits(),
                 clock: Callable[[], float] = time.monotonic, ask: AskFunction | None = None) -> None:
        """`ask` (default `questions.ask`) is how a resolved question is answered; the
        runtime passes its own hand-over, so every question goes through one entry point."""
        self.questions = questions
        self._ask: AskFunction = ask or questions.ask
        self.limits = limits
        self.memory = ConversationMemory(limits.max_turns, limits.minutes * 60, limits.max_keys, clock)
        self.trails = AnswerTrails(limits.max_keys, limits.button_hours * 3600, clock)

    def reply(self, text: str, actor: Actor | None = None, key: ConversationKey | None = None,
              asked_at: date | None = None, admitted: bool = False, follow_up: bool = True,
              locale: str | None = None) -> Reply:
        """Small talk, a continuation, or the answer to `text` read against `key`'s previous
        question. With `follow_up` False (a group message that does not reply to the bot) the
        question stands on its own, but is remembered, so a reply to its answer can lean on it;
        with no key, nothing is read or remembered. Raises what `Questions.ask` raises.

        The reply is in the language `text` is written in (`locale`, the platform's setting,
        breaks a tie), not the language of the question it was resolved into."""
        language = reply_language(text, locale)
        notice = small_talk_reply(text, language)
        if notice is not None:
            return notice
        written, text = text, without_greeting(text)
        previous = self.memory.last(key) if key is not None and follow_up else None
        if asks_for_more(text):
            if previous is None:
                return Notice("nothing to continue", phrases(language).text(NOTHING_TO_CONTINUE), language)
            return self._continue(previous, actor, key, asked_at, admitted, language)
        self.questions.clean(text)  # an empty or over-long message is refused as it was sent
        reading = resolve(text, previous.topic) if previous is not None else None
        if reading is not None and len(reading.question) > self.questions.limits.max_question_chars:
            reading = None  # joined, it would be refused as too long: ask what was written
        question = reading.question if reading is not None else text
        answer = replace(self._ask(question, actor, asked_at, admitted, frozenset()), language=language)
        if question != written:
            answer = _with_resolved(answer, question)
        turn = Turn(answer.question, reading.topic if reading is not None else text,
                    _quoted(answer), answer.id)
        # A fragment that had nothing to lean on ("why?" as a group mention, or first of all)
        # is no topic: the question before it stays the one to follow up on.
        self._remember(key, turn, in_memory=reading is not None or not leans_on_previous(text))
        return answer

    def more(self, answer_id: int, actor: Actor | None = None, key: ConversationKey | None = None,
             asked_at: date | None = None, admitted: bool = False, locale: str | None = None) -> Reply:
        """The continuation of answer `answer_id` for whoever pressed its More button, in the
        language of the question it continues (the presser's `locale` when that is lost)."""
        trail = self.trails.find(answer_id, _place(key))
        if trail is None:
            language = language_from_hint(locale) or DEFAULT_LANGUAGE
            return Notice("expired", phrases(language).text(MORE_EXPIRED), language)
        return self._continue(trail, actor, key, asked_at, admitted, reply_language(trail.question, locale))

    def _continue(self, previous: Turn, actor: Actor | None, key: ConversationKey | None,
                  asked_at: date | None, admitted: bool, language: Language) -> Reply:
        answer = self._ask(previous.question, actor, asked_at, admitted, previous.passages)
        if not answer.found:
            return Notice("nothing more", phrases(language).text(NOTHING_MORE), language)
        answer = _with_resolved(replace(answer, language=language), previous.question)
        self._remember(key, Turn(previous.question, previous.topic, previous.passages | _quoted(answer), answer.id))
        return answer

    def _remember(self, key: ConversationKey | None, turn: Turn, in_memory: bool = True) -> None:
        if key is not None and in_memory:
            self.memory.remember(key, turn)
        self.trails.record(turn.answer_id, turn, _place(key))


def _place(key: ConversationKey | None) -> Place | None:
    return (key.platform, key.chat) if key is not None else None


def _quoted(answer: Answer) -> frozenset[int]:
    return frozenset(q.passage_id for q in answer.quotes)


def _with_resolved(answer: Answer, question: str) -> Answer:
    """The answer with the question actually searched in its explanation (the composer's own
    reading, such as a stripped prefix, kept when it gave one)."""
    if answer.explanation.resolved_question:
        return answer
    return replace(answer, explanation=replace(answer.explanation, resolved_question=question))
