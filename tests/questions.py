"""The shared question lists in tests/data: used by the abstention tests, and by
benchmarks/quality/fit_gate.py, which fits the relevance gate on the seed questions and on
off_topic_training.txt and reports off_topic_questions.txt (held out) beside them."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def read_questions(name: str) -> list[str]:
    """One question a line; blank lines and lines starting with '#' are skipped."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


OFF_TOPIC_QUESTIONS = read_questions("off_topic_questions.txt")  # the bot must decline these
SEED_QUESTIONS = read_questions("seed_questions.txt")  # the seed article answers these
