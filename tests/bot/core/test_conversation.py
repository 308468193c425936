"""The Conversation use-case: what is asked for a follow-up, "tell me more", the More button
and small talk; with a stand-in for answering (a few numbered passages per topic), and one
slow test on the seed article with the real model."""

from __future__ import annotations

from knowledge.language import Language

from datetime import date
from typing import cast

import pytest

from bot.core.actors import Actor
from bot.core.answer import Answer, Quote, Source
from bot.core.conversation import Conversation, ConversationLimits, Notice, small_talk_reply
from bot.core.conversation_memory import ConversationKey
from bot.core.errors import QuestionError
from bot.core.messages import MORE_EXPIRED, NOTHING_MORE, NOTHING_TO_CONTINUE, THANKS_REPLY
from bot.core.questions import QuestionLimits, QuestionPorts, Questions
from bot.runtime.service import CrisisBot
from tests.factories import document_info

ALICE = ConversationKey("telegram", "1", "alice")
BOB = ConversationKey("telegram", "1", "bob")
ATACMS = "Why did the US allow ATACMS strikes?"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Knowledge:
    """Answers any question naming ATACMS or Biden with two passages at a time (of five),
    skipping those excluded; records what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, frozenset[int]]] = []
        self.next_id = 0

    def __call__(self, question: str, actor: Actor | None, asked_at: date | None, admitted: bool,
                 exclude: frozenset[int]) -> Answer:
        self.asked.append((question, exclude))
        self.next_id += 1
        if "ATACMS" not in question and "Biden" not in question:
            return Answer(question, id=self.next_id)
        passages = [p for p in range(5) if p not in exclude][:2]
        quotes = [Quote(f"passage {p}", 1, p, 0, 9, 0.5) for p in passages]
        return Answer(question, quotes, [Source(1, document_info(), 0.5)] if quotes else [], 0.5, self.next_id)


def conversation(knowledge: Knowledge, clock: Clock | None = None) -> Conversation:
    questions = Questions(cast(QuestionPorts, None), QuestionLimits(max_question_chars=100, retrieve_k=8))
    return Conversation(questions, ConversationLimits(minutes=30), clock or Clock(), ask=knowledge)


def test_a_follow_up_is_asked_resolved_and_explained() -> None:
    knowledge = Knowledge()
    talk = conversation(knowledge)
    talk.reply(ATACMS, key=ALICE)
    answer = talk.reply("and Biden?", key=ALICE)
    assert isinstance(answer, Answer) and answer.found
    assert knowledge.asked[-1] == ("Why did Biden allow ATACMS strikes?", frozenset())
    assert answer.explanation.resolved_question == "Why did Biden allow ATACMS strikes?"


def test_a_standalone_question_is_asked_as_written_with_no_resolved_question() -> None:
    knowledge = Knowledge()
    talk = conversation(knowledge)
    talk.reply(ATACMS, key=ALICE)
    answer = talk.reply("What did Biden say about ATACMS?", key=ALICE)
    assert knowledge.asked[-1][0] == "What did Biden say about ATACMS?"
    assert isinstance(answer, Answer) and answer.explanation.resolved_question == ""


def test_memory_is_per_user_and_off_without_follow_up_or_key() -> None:
    knowledge = Knowledge()
    talk = conversation(knowledge)
    talk.reply(ATACMS, key=ALICE)
    talk.reply("why?", key=BOB)
    assert knowledge.asked[-1][0] == "why?"
    talk.reply("why?", key=ALICE, follow_up=False)  # a group mention: stands alone
    assert knowledge.asked[-1][0] == "why?"
    talk.reply("why?")  # no conversation at all
    assert knowledge.asked[-1][0] == "why?"
    talk.reply("when?", key=ALICE)  # the unresolvable "why?"s did not replace the topic
    assert knowledge.asked[-1][0] == "When did the US allow ATACMS strikes?"


def test_the_memory_expires() -> None:
    knowledge, clock = Knowledge(), Clock()
    talk = conversation(knowledge, clock)
    talk.reply(ATACMS, key=ALICE)
    clock.now = 31 * 60
    talk.reply("and Biden?", key=ALICE)
    assert knowledge.asked[-1][0] == "and Biden?"


def test_tell_me_more_continues_until_nothing_is_left() -> None:
    knowledge = Knowledge()
    talk = conversation(knowledge)
    assert talk.reply("tell me more", key=ALICE) == Notice("nothing to continue", NOTHING_TO_CONTINUE)
    first = talk.reply(ATACMS, key=ALICE)
    assert isinstance(first, Answer) and [q.passage_id for q in first.quotes] == [0, 1]
    second = talk.reply("tell me more", key=ALICE)
    assert isinstance(second, Answer) and [q.passage_id for q in second.quotes] == [2, 3]
    assert knowledge.asked[-1] == (ATACMS, frozenset({0, 1}))
    third = talk.reply("more", key=ALICE)
    assert isinstance(third, Answer) and [q.passage_id for q in third.quotes] == [4]
    assert talk.reply("go on", key=ALICE) == Notice("nothing more", NOTHING_MORE)


def test_the_more_button_continues_that_answer_for_whoever_presses_it() -> None:
    knowledge = Knowledge()
    talk = conversation(knowledge)
    first = talk.reply(ATACMS, key=ALICE)
    assert isinstance(first, Answer) and first.id is not None
    pressed = talk.more(first.id, key=BOB)
    assert isinstance(pressed, Answer) and [q.passage_id for q in pressed.quotes] == [2, 3]
    assert pressed.id is not None
    again = talk.more(pressed.id, key=BOB)  # the button under the continuation goes on
    assert isinstance(again, Answer) and [q.passage_id for q in again.quotes] == [4]
    assert talk.more(first.id, key=ALICE) != Notice("expired", MORE_EXPIRED)  # the first button still works
    assert talk.more(10**18) == Notice("expired", MORE_EXPIRED)  # an id never given
    # Bob's press started his own conversation: his "tell me more" goes on from there.
    assert talk.reply("more", key=BOB) == Notice("nothing more", NOTHING_MORE)


def test_the_more_button_works_only_in_the_chat_of_its_answer() -> None:
    knowledge = Knowledge()
    talk = conversation(knowledge)
    private = talk.reply(ATACMS, key=ConversationKey("discord", "dm-of-alice", "alice"))
    assert isinstance(private, Answer) and private.id is not None
    elsewhere = ConversationKey("discord", "general", "mallory")  # an id forged in a channel
    assert talk.more(private.id, key=elsewhere) == Notice("expired", MORE_EXPIRED)
    assert talk.more(private.id) == Notice("expired", MORE_EXPIRED)
    assert len(knowledge.asked) == 1  # nothing was asked, so nothing of Alice's shown


def test_small_talk_is_answered_without_asking() -> None:
    knowledge = Knowledge()
    talk = conversation(knowledge)
    assert talk.reply("hello", key=ALICE) == Notice("greeting")
    assert talk.reply("thanks!", key=ALICE) == Notice("thanks", THANKS_REPLY)
    # Thanks in Ukrainian are answered in Ukrainian; help asked in Russian is given in Russian.
    assert talk.reply("дякую", key=ALICE) == Notice("thanks", "Будь ласка. Ставте нові запитання будь-коли.",
                                                      Language.UK)
    assert cast(Notice, small_talk_reply("помощь")).language is Language.RU
    assert cast(Notice, small_talk_reply("help")).wants_help
    assert knowledge.asked == []


def test_a_follow_up_too_long_once_joined_is_asked_as_written() -> None:
    knowledge = Knowledge()
    talk = conversation(knowledge)
    long_question = "Why did the US allow ATACMS strikes " + "and " * 14 + "?"
    talk.reply(long_question, key=ALICE)
    talk.reply("and what did the others do after that?", key=ALICE)
    assert knowledge.asked[-1][0] == "and what did the others do after that?"


def test_a_greeting_in_front_of_a_question_is_not_searched() -> None:
    knowledge = Knowledge()
    answer = conversation(knowledge).reply("Hi! " + ATACMS, key=ALICE)
    assert knowledge.asked == [(ATACMS, frozenset())]
    assert isinstance(answer, Answer) and answer.explanation.resolved_question == ATACMS


def test_a_bad_message_is_refused_as_sent() -> None:
    talk = conversation(Knowledge())
    with pytest.raises(QuestionError):
        talk.reply("x" * 101, key=ALICE)


@pytest.mark.slow
def test_and_biden_after_the_atacms_question_answers_about_biden(seeded_bot: CrisisBot) -> None:
    """The seed article: "...prompted U.S. President Joe Biden to take decisive action by
    allowing Ukraine to target Russian positions with ATACMS long-range missiles..."."""
    talk = Conversation(seeded_bot.questions)
    talk.reply(ATACMS, key=ALICE)
    answer = talk.reply("and Biden?", key=ALICE)
    assert isinstance(answer, Answer)
    assert answer.explanation.resolved_question == "Why did Biden allow ATACMS strikes?"
    assert answer.found, "the seed article says why Biden allowed ATACMS strikes"
    assert any("Biden" in quote.text for quote in answer.quotes)
