"""Question types: each lifts the sentences that have what it asks for; "is it true" is searched without its prefix."""

from __future__ import annotations

import pytest

from bot.core.question_types import (
    TYPE_BONUS,
    QuestionType,
    classify,
    has_date,
    has_quantity,
    has_reason,
    searchable_question,
    type_bonus,
)


@pytest.mark.parametrize(("question", "kind"), [
    ("How many were killed in Bucha?", QuestionType.HOW_MANY),
    ("how much grain left Odesa?", QuestionType.HOW_MANY),
    ("When did the Azovstal defenders surrender?", QuestionType.WHEN),
    ("Who shelled the prison in Olenivka?", QuestionType.WHO),
    ("Why did Biden allow ATACMS?", QuestionType.WHY),
    ("What prompted the evacuation of Kherson?", QuestionType.WHY),
    ("Is it true that Ukraine shelled Bucha?", QuestionType.IS_IT_TRUE),
    ("Is it true that 300 people died in the theatre?", QuestionType.IS_IT_TRUE),
    ("What is the latest on Kherson?", QuestionType.LATEST),
    ("What happened in Bucha?", QuestionType.OTHER),
    # A follow-up joined to the question it leans on is of its own type, when it has one.
    ("who did it: How many prisoners died in the explosion at the Olenivka prison?", QuestionType.WHO),
    ("why does it matter: Did Ukraine withdraw from Lysychansk?", QuestionType.WHY),
    ("tell me: How many prisoners died at Olenivka?", QuestionType.HOW_MANY),
])
def test_classify(question: str, kind: QuestionType) -> None:
    assert classify(question) is kind


@pytest.mark.parametrize(("question", "searched"), [
    ("Is it true that Ukraine shelled Bucha?", "Ukraine shelled Bucha?"),
    ("is it true the Moskva was sunk by Neptune missiles?", "The Moskva was sunk by Neptune missiles?"),
    ("Fact check: Russia staged the Bucha killings", "Russia staged the Bucha killings"),
    ("What happened in Bucha?", "What happened in Bucha?"),
    ("Is it true?", "Is it true?"),  # nothing left to search: unchanged
])
def test_searchable_question_strips_only_the_fact_check_prefix(question: str, searched: str) -> None:
    assert searchable_question(question) == searched


def test_cues_come_from_real_sentences() -> None:
    assert has_quantity("Russia has said a further 771 Ukrainian troops have “surrendered” at Mariupol’s besieged Azovstal steelworks.")
    assert has_quantity("Hundreds of Ukrainian fighters and civilians were holed up for weeks.")
    assert not has_quantity("The city had already been pulverised by extensive Russian shelling.")
    assert has_date("Ukraine announced the prisoner exchange on Wednesday.")
    assert has_date("More than a thousand defenders were transferred to Russian-held territory in May.")
    assert not has_date("The city had already been pulverised by extensive Russian shelling.")
    assert has_reason("This form of military support prompted U.S. President Joe Biden to take decisive action.")
    assert has_reason("The rail link is unlikely to work because of a Ukrainian strike on an ammunition train.")
    assert not has_reason("Zelenskiy invited former German and French leaders to visit Bucha.")


def test_the_bonus_is_given_only_for_the_cue_the_type_asks_for() -> None:
    numbered = "Haidai said officials counted about 200 dead in Kreminna."
    assert type_bonus(QuestionType.HOW_MANY, numbered) == (TYPE_BONUS, "has a quantity")
    assert type_bonus(QuestionType.HOW_MANY, "Street fighting was taking place in the town.") == (0.0, "")
    assert type_bonus(QuestionType.OTHER, numbered) == (0.0, "")


def test_dates_and_clock_times_are_not_quantities() -> None:
    assert not has_quantity("On 21 April, an article published by the Guardian revealed how civilians were killed.")
    assert not has_quantity("2 May 2022 04.52 South Korean ambassador Kim Hyung-tae has returned to Kyiv.")
    assert has_quantity("We have official statistics – about 200 dead – but in reality there are many more.")
