"""The answer set's scorer: string matching on quoted text, judged the way issue 19 reads an
answer (the gold quoted, about the subject, not about another place, no rebutted claim passed
off as fact), and conversations asked in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bot.core.answer import Answer
from bot.runtime.answer_set import (
    EverydayCase,
    Item,
    conversations,
    fold,
    judge,
    run_answer_set,
    run_everyday,
    score_everyday_reply,
)
from tests.factories import document_info, quoted_answer


def item(**fields: Any) -> Item:
    row: dict[str, Any] = {"id": "q1", "question": "How many were killed in Bucha?", "gold": ["410 civilians"],
                           "source": "guardian-bucha", "kind": "number"}
    row.update(fields)
    return Item.from_json(row)


def answer(*texts: str, document: str = "guardian-bucha") -> Answer:
    return quoted_answer(list(texts), [document_info(id=document)])


def test_fold_makes_curly_and_straight_quotes_dashes_spaces_and_case_equal() -> None:
    assert fold("Ukraine\u2019s  \u201cstaged\u201d\u00a0attack \u2013 NOW") == "ukraine's \"staged\" attack - now"


def test_gold_matches_across_quote_styles_and_line_breaks() -> None:
    verdict = judge(item(gold=["Ukraine's ports"]), answer("The Russian blockade of\nUkraine\u2019s ports since February."))
    assert verdict.answered and verdict.contains_gold


def test_a_declined_question_is_neither_answered_nor_gold() -> None:
    verdict = judge(item(), Answer("How many were killed in Bucha?"))
    assert not verdict.answered and not verdict.contains_gold and not verdict.correct


def test_a_quote_about_another_place_is_a_wrong_place() -> None:
    it = item(about=["Bucha"], not_about=["Kreminna"], gold=["200 dead"])
    verdict = judge(it, answer("Bodies lay in Bucha's streets.",
                               "In Kreminna, officials counted about 200 dead."))
    assert verdict.wrong_place  # the second span is about Kreminna, whatever the first says
    assert verdict.contains_gold and not verdict.correct


def test_a_quote_naming_both_places_is_not_a_wrong_place() -> None:
    it = item(about=["Bucha"], not_about=["Kreminna"])
    verdict = judge(it, answer("Unlike Kreminna, Bucha counted 410 civilians dead."))
    assert not verdict.wrong_place and verdict.about_right and verdict.correct


def test_a_quote_naming_no_subject_is_not_about_right() -> None:
    verdict = judge(item(about=["Bucha"]), answer("The bodies of 410 civilians were found."))
    assert verdict.contains_gold and verdict.about_right is False and not verdict.correct


def test_an_item_without_a_subject_has_no_about_verdict() -> None:
    assert judge(item(), answer("410 civilians.")).about_right is None


def test_a_rebutted_claim_quoted_alone_is_presented_as_fact() -> None:
    it = item(rebutted=["caused by Ukraine shelling Bucha"], gold=["flechettes"])
    verdict = judge(it, answer("\u201cThey were caused by Ukraine shelling Bucha,\u201d reads the article."))
    assert verdict.rebutted_as_fact and not verdict.correct


def test_a_rebutted_claim_with_its_rebuttal_in_the_answer_is_not_presented_as_fact() -> None:
    it = item(rebutted=["caused by Ukraine shelling Bucha"], gold=["flechettes"])
    verdict = judge(it, answer("The outlet mistranslated the article on flechettes.",
                               "\u201cThey were caused by Ukraine shelling Bucha,\u201d reads the article."))
    assert not verdict.rebutted_as_fact and verdict.correct


def test_an_item_may_name_its_own_rebuttal_words() -> None:
    """A claim whose own wording has a default marker ("propaganda") needs its own."""
    claim = "Western propaganda is lying when they say that Russia invaded Ukraine"
    it = item(rebutted=[claim], rebuttal=["falsely"], gold=["invaded"])
    assert judge(it, answer(f"\u201c{claim},\u201d he said.")).rebutted_as_fact
    assert not judge(it, answer("He falsely claimed it was no invasion.", f"\u201c{claim},\u201d he said.")).rebutted_as_fact


def test_follow_ups_join_the_conversation_they_follow() -> None:
    items = [item(id="a"), item(id="b"), item(id="a2", follow_up_of="a"), item(id="a3", follow_up_of="a2")]
    assert [[i.id for i in chain] for chain in conversations(items)] == [["a", "a2", "a3"], ["b"]]


def test_a_follow_up_of_an_unknown_or_later_item_is_refused() -> None:
    with pytest.raises(ValueError, match="not an earlier item"):
        conversations([item(id="b", follow_up_of="a"), item(id="a")])


def test_each_conversation_is_asked_once_in_order_and_each_reply_judged_against_its_item() -> None:
    asked: list[list[str]] = []

    def ask_turns(messages: list[str]) -> Sequence[Answer]:
        asked.append(messages)
        return [answer("Russian soldiers killed 410 civilians in Bucha.") if m.startswith("How") else Answer(m)
                for m in messages]

    items = [item(id="a", about=["Bucha"]), item(id="b", question="who did it?", follow_up_of="a",
                                                 gold=["Russian soldiers"], kind="follow-up")]
    report = run_answer_set(items, ask_turns)
    assert asked == [["How many were killed in Bucha?", "who did it?"]]
    total = report.total
    assert (total.questions, total.answered, total.contains_gold) == (2, 1, 1)
    assert report.by_kind()["follow-up"].answered == 0
    assert [v.item.id for v in report.failures()] == ["b"]


def case(**fields: Any) -> EverydayCase:
    row: dict[str, Any] = {"id": "kyiv", "turns": ["Is it safe to return to Kyiv?"], "points": 2,
                           "expect": "answer", "gold": ["airstrikes on Kyiv"], "about": ["Kyiv"],
                           "not_about": ["Kharkiv"], "source": ["guardian-kyiv"]}
    row.update(fields)
    return EverydayCase.from_json(row)


def test_a_correct_everyday_answer_earns_its_points() -> None:
    reply = answer("Russia launched airstrikes on Kyiv for the first time in five weeks.", document="guardian-kyiv")
    assert score_everyday_reply(case(), reply).points == 2


def test_a_sentence_naming_the_place_in_a_report_about_another_earns_nothing() -> None:
    """The issue's Kharkiv sentence: it names Kyiv, but neither answers nor comes from a report on Kyiv."""
    reply = answer("The city, which was returning to normal life, as worries grow in Kyiv.", document="guardian-kharkiv")
    assert score_everyday_reply(case(), reply).points == 0


def test_the_subject_quoted_from_a_source_without_the_gold_is_partly_right() -> None:
    reply = answer("Kyiv's mayor said one victim was hospitalised.", document="guardian-kyiv")
    assert score_everyday_reply(case(), reply).points == 1


def test_a_wrong_place_earns_nothing_even_with_the_gold() -> None:
    reply = answer("After airstrikes on Kyiv, Kharkiv was shelled.", "Kharkiv saw its worst shelling.",
                   document="guardian-kyiv")
    assert score_everyday_reply(case(), reply).points == 0


class HelpNotice:
    wants_help = True


def test_hello_earns_its_points_only_with_the_help_text() -> None:
    hello = case(id="hello", turns=["hello"], expect="help")
    assert score_everyday_reply(hello, HelpNotice()).points == 2
    assert score_everyday_reply(hello, Answer("hello")).points == 0


def test_everyday_cases_are_scored_on_their_last_reply() -> None:
    follow = case(id="biden", turns=["How many troops?", "and Biden?"], points=1, gold=["ATACMS"], about=["Biden"])

    def ask_turns(messages: list[str]) -> list[Answer]:
        return [answer("Biden allowed ATACMS strikes.", document="seed"), Answer(messages[1])]

    report = run_everyday([follow], ask_turns)
    assert (report.points, report.max_points) == (0, 1)
