"""The rules that read a chat message: small talk, "more", follow-up or standalone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.followups import SmallTalk, asks_for_more, leans_on_previous, resolve, small_talk, without_greeting

ATACMS = "Why did the US allow ATACMS strikes?"
BUCHA = "What happened in Bucha?"


@pytest.mark.parametrize("follow_up, previous, resolved, rule", [
    ("and Biden?", ATACMS, "Why did Biden allow ATACMS strikes?", "substitution"),
    ("what about Kherson?", BUCHA, "What happened in Kherson?", "substitution"),
    ("How about the Kremlin?", ATACMS, "Why did the Kremlin allow ATACMS strikes?", "substitution"),
    ("and in Mariupol?", "how many civilians were killed?", "how many civilians were killed in Mariupol?", "substitution"),
    ("when?", ATACMS, "When did the US allow ATACMS strikes?", "question word"),
    ("How many exactly?", ATACMS, "how many: Why did the US allow ATACMS strikes?", "question word"),
    ("why?", "What is the latest on Kherson?", "why: What is the latest on Kherson?", "question word"),
    ("when?", "What did Biden do?", "when: What did Biden do?", "question word"),
    ("Where?", "How did Russia retreat from Kherson?", "Where did Russia retreat from Kherson?", "question word"),
    ("why?", BUCHA, "why: What happened in Bucha?", "question word"),
    ("who was responsible?", BUCHA, "who was responsible: What happened in Bucha?", "joined"),
    ("and what did Biden do?", ATACMS, "what did Biden do: Why did the US allow ATACMS strikes?", "joined"),
    ("is it safe?", BUCHA, "is it safe: What happened in Bucha?", "joined"),
    ("what did Russia say it was aiming at?", "How many were killed in Vinnytsia?",
     "what did Russia say it was aiming at: How many were killed in Vinnytsia?", "joined"),
    ("why does Ukraine need it?", "How much did the G7 pledge?", "why does Ukraine need it: How much did the G7 pledge?",
     "joined"),
    ("who wrote the report?", "Is Russia guilty of genocide?", "who wrote the report: Is Russia guilty of genocide?",
     "joined"),
])
def test_follow_ups_are_resolved_against_the_previous_question(
        follow_up: str, previous: str, resolved: str, rule: str) -> None:
    assert leans_on_previous(follow_up)
    reading = resolve(follow_up, previous)
    assert (reading.question, reading.rule) == (resolved, rule)


@pytest.mark.parametrize("question", [
    "How many North Korean troops arrived in Russia?",
    "What is the latest on Kherson?",
    "Is it safe to return to Kyiv?",
    "so how many troops did North Korea send to Russia?",
    "Why did Biden allow ATACMS strikes?",
    "what is the situation at the front line",
    "Is it true that Russia did not invade Ukraine?",
    "Did Zelensky say he would resign?",
    "It is true that the grain deal collapsed?",
])
def test_a_standalone_question_is_not_rewritten(question: str) -> None:
    assert not leans_on_previous(question)
    reading = resolve(question, BUCHA)
    assert (reading.question, reading.topic, reading.rule) == (question, question, "standalone")


def test_a_chain_of_question_words_resolves_against_the_topic_not_the_chain() -> None:
    first = resolve("why?", BUCHA)
    second = resolve("when?", first.topic)
    assert first.topic == BUCHA and second.question == "when: What happened in Bucha?"


def test_a_substitution_becomes_the_new_topic() -> None:
    moved = resolve("what about Kherson?", BUCHA)
    assert resolve("why?", moved.topic).question == "why: What happened in Kherson?"


@pytest.mark.parametrize("text, kind", [
    ("hi", SmallTalk.GREETING), ("Hello!", SmallTalk.GREETING), ("hey there", SmallTalk.GREETING),
    ("привіт", SmallTalk.GREETING), ("Привет!", SmallTalk.GREETING), ("hello bot", SmallTalk.GREETING),
    ("thanks", SmallTalk.THANKS), ("Thank you!", SmallTalk.THANKS), ("дякую", SmallTalk.THANKS),
    ("спасибо", SmallTalk.THANKS), ("ok thanks 👍", SmallTalk.THANKS),
    ("help", SmallTalk.HELP), ("/start", SmallTalk.HELP), ("допомога", SmallTalk.HELP),
    ("помощь", SmallTalk.HELP), ("help please", SmallTalk.HELP),
])
def test_small_talk_is_recognised(text: str, kind: SmallTalk) -> None:
    assert small_talk(text) is kind


@pytest.mark.parametrize("text", [
    "hi, how many troops did North Korea send?", "thanks to the US, Ukraine got ATACMS?",
    "help for refugees in Kharkiv", "What happened in Bucha?", "", "👍",
])
def test_questions_are_not_small_talk(text: str) -> None:
    assert small_talk(text) is None


@pytest.mark.parametrize("text, more", [
    ("more", True), ("Tell me more!", True), ("go on", True), ("continue", True), ("ще", True),
    ("tell me more about Bucha", False), ("more troops?", False), ("why?", False),
])
def test_asks_for_more(text: str, more: bool) -> None:
    assert asks_for_more(text) is more


@given(st.text(max_size=200), st.text(max_size=200))
def test_any_text_is_read_without_error(text: str, previous: str) -> None:
    reading = resolve(text, previous)
    assert reading.rule in {"standalone", "substitution", "question word", "joined"}
    assert len(reading.question) <= len(text) + len(previous) + 4
    small_talk(text)
    asks_for_more(text)


@pytest.mark.parametrize("text, question", [
    ("hi, how many troops did North Korea send?", "how many troops did North Korea send?"),
    ("Hello! What happened in Bucha?", "What happened in Bucha?"),
    ("привіт, що сталося в Бучі?", "що сталося в Бучі?"),
    ("history of Crimea?", "history of Crimea?"),  # "hi" is not a greeting inside a word
    ("hey", "hey"),
])
def test_a_greeting_in_front_is_dropped(text: str, question: str) -> None:
    assert without_greeting(text) == question
