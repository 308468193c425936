from __future__ import annotations

from datetime import date

import pytest

from index.recency import mentions_recency, published_date, recency_bonus


@pytest.mark.parametrize("question", [
    "What is the latest on Bakhmut?", "Who controls Kupiansk now?", "what happened this week",
    "Is the bridge currently open?", "any recent strikes on Kyiv?", "How many so far?",
    "What's the situation today", "Is the road still closed?",
    # A weekday or the weekend names the last few days.
    "What was hit in Kyiv on Tuesday?", "who won last Sunday night", "What happened yesterday?",
    "Was Odesa shelled this weekend?",
])
def test_recency_words_are_recognised(question: str) -> None:
    assert mentions_recency(question)


@pytest.mark.parametrize("question", [
    "How many North Korean troops were sent?", "What did the known reports say?",
    "Who won the 2022 election?", "Where is Snowdon?", "What is Black Friday?",
])
def test_questions_without_them_are_not(question: str) -> None:
    assert not mentions_recency(question)


def test_partial_dates_mean_their_first_day() -> None:
    assert published_date("2024") == date(2024, 1, 1)
    assert published_date("2024-11") == date(2024, 11, 1)
    assert published_date("2024-11-06") == date(2024, 11, 6)
    assert published_date(None) is None and published_date("") is None


def test_bonus_decays_with_age_and_ignores_future_and_unknown() -> None:
    asked = date(2024, 11, 30)
    fresh = recency_bonus("2024-11-30", asked, 1.0, 30)
    month = recency_bonus("2024-10-31", asked, 1.0, 30)
    old = recency_bonus("2022-02", asked, 1.0, 30)
    assert fresh == pytest.approx(1.0) and month == pytest.approx(0.3679, abs=1e-3)
    assert fresh > month > old > 0
    assert recency_bonus("2024-12-01", asked, 1.0, 30) == 0.0
    assert recency_bonus(None, asked, 1.0, 30) == 0.0
    assert recency_bonus("2024-11-30", asked, 0.0, 30) == 0.0
