"""`crisisbot ask --explain`: the gate's view of every retrieved passage and why each quote.

An admin who sees a question declined (or answered with an odd quote) needs to know which
evidence the bot weighed and how: each candidate's features, the gate's probability and
decision, and the reasons for each quoted span. The core fills `Answer.explanation`; this
module only lays it out, as text for a terminal and as plain data for `--format json`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bot.core.answer import Answer
from bot.core.explanation import Explanation

_TITLE_CHARS = 60


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"


def _short(title: str) -> str:
    return title if len(title) <= _TITLE_CHARS else title[: _TITLE_CHARS - 1] + "…"


def render_explanation(answer: Answer) -> str:
    """Lines for a terminal, after the answer itself."""
    explanation = answer.explanation
    lines = ["", "Why this answer:"]
    if explanation.question_type:
        lines.append(f"  question type: {explanation.question_type}")
    if explanation.resolved_question and explanation.resolved_question != answer.question:
        lines.append(f"  searched as: {explanation.resolved_question}")
    if not explanation.candidates:
        lines.append("  no passage was retrieved")
    else:
        lines.append(f"  {len(explanation.candidates)} candidate passages:")
    for rank, candidate in enumerate(explanation.candidates, start=1):
        verdict = "accepted" if candidate.accepted else "declined"
        lines.append(f"  {rank}. passage {candidate.passage_id} of {candidate.document_id!r} "
                     f"({_short(candidate.title)}): {verdict}, p {_number(candidate.probability)}"
                     + (f", {candidate.reason}" if candidate.reason else ""))
        if candidate.features:
            lines.append("     " + ", ".join(f"{name} {_number(value)}"
                                             for name, value in candidate.features.items()))
    for reason in explanation.quotes:
        if 0 <= reason.quote < len(answer.quotes):
            quote = answer.quotes[reason.quote]
            lines.append(f"  quote {reason.quote + 1} [{quote.source}]: " + "; ".join(reason.reasons))
    return "\n" + "\n".join(lines)


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    """Plain data (floats rounded) for `--format json --explain`."""
    data = asdict(explanation)
    for candidate in data["candidates"]:
        candidate["probability"] = round(candidate["probability"], 4)
        candidate["features"] = {k: round(v, 4) for k, v in candidate["features"].items()}
    return data
