"""`ask --explain` lays out what the core explained, for a terminal and as JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.adapters.cli.app import _render
from bot.adapters.cli.explain import explanation_json, render_explanation
from bot.core.answer import Answer, Quote, Source
from bot.core.explanation import CandidateExplanation, Explanation, QuoteExplanation
from bot.core.gate_model import FEATURES
from bot.core.messages import NO_ANSWER
from tests.bot.adapters.cli.operator import cli_env, crisisbot
from tests.factories import document_info

ACCEPTED = CandidateExplanation(7, "doc-a", "Troops arrive in Kursk", {"cosine": 0.61234, "bm25_z": 2.5},
                                0.8123, True, "p 0.81 >= 0.50")
DECLINED = CandidateExplanation(9, "doc-b", "A tennis final " + "x" * 80, {"cosine": 0.2}, 0.04, False,
                                "p 0.04 < 0.50")


def explained_answer() -> Answer:
    quote = Quote("About 11,000 troops arrived.", 1, 7, 0, 28, 0.7)
    return Answer("how many troops arrived?", [quote], [Source(1, document_info(id="doc-a"), 0.61)],
                  explanation=Explanation("how many", "how many troops arrived in Kursk?", [ACCEPTED, DECLINED],
                                          [QuoteExplanation(0, ["best sentence (cosine 0.70)", "has a quantity"])]))


def test_each_candidate_shows_its_features_decision_and_reason() -> None:
    text = render_explanation(explained_answer())
    assert "question type: how many" in text
    assert "searched as: how many troops arrived in Kursk?" in text
    assert "1. passage 7 of 'doc-a' (Troops arrive in Kursk): accepted, p 0.812, p 0.81 >= 0.50" in text
    assert "cosine 0.612, bm25_z 2.5" in text
    assert "2. passage 9 of 'doc-b'" in text and "declined, p 0.04" in text and "…" in text
    assert "quote 1 [1]: best sentence (cosine 0.70); has a quantity" in text


def test_a_declined_answer_still_explains_its_candidates() -> None:
    answer = Answer("what is offside?", explanation=Explanation(candidates=[DECLINED]))
    text = _render(answer, "text", explain=True)
    assert text.startswith("The knowledge base has no answer")
    assert "declined, p 0.04, p 0.04 < 0.50" in text and "quote" not in text


def test_without_explain_nothing_is_added() -> None:
    assert "Why this answer" not in _render(explained_answer(), "text")
    assert "explanation" not in json.loads(_render(explained_answer(), "json"))


def test_json_carries_the_explanation_rounded() -> None:
    data = json.loads(_render(explained_answer(), "json", explain=True))["explanation"]
    assert data["question_type"] == "how many"
    assert data["candidates"][0] == {"passage_id": 7, "document_id": "doc-a", "title": "Troops arrive in Kursk",
                                     "features": {"cosine": 0.6123, "bm25_z": 2.5}, "probability": 0.8123,
                                     "accepted": True, "reason": "p 0.81 >= 0.50"}
    assert data["quotes"] == [{"quote": 0, "reasons": ["best sentence (cosine 0.70)", "has a quantity"]}]
    assert explanation_json(Explanation()) == {"question_type": "", "resolved_question": "",
                                               "candidates": [], "quotes": [], "unread_language": ""}
    # A question declined for its language says which (issue 20).
    assert explanation_json(Explanation(unread_language="uk"))["unread_language"] == "uk"


@pytest.mark.slow
def test_ask_explain_in_a_real_process_shows_each_candidates_features_and_decision(tmp_path: Path) -> None:
    """The whole path: the retriever's hits, the gate's features and probability, the decision,
    printed by `crisisbot ask --explain` on the seed article, for an answer and for a refusal."""
    env = cli_env(tmp_path / "data")
    answered = crisisbot(["ask", "How many North Korean troops have arrived in Russia?", "--explain"], env)
    declined = crisisbot(["ask", "How do I make a sourdough starter from scratch?", "--explain"], env)
    for result in (answered, declined):
        assert result.returncode == 0, result.stderr[-2000:]
        out = result.stdout
        assert "Why this answer:" in out and "candidate passages:" in out
        assert "of 'turning-tides-2024-11'" in out
        for name in FEATURES:
            assert f"{name} " in out, name
        assert re.search(r": (accepted|declined), p [0-9.]+, p [0-9.]+ (>=|<) [0-9.]+", out), out
    assert ": accepted, p " in answered.stdout
    assert NO_ANSWER.split(".")[0] in declined.stdout
    assert ": accepted, p " not in declined.stdout and ": declined, p " in declined.stdout
