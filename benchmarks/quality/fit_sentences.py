#!/usr/bin/env python
"""Fits the sentence ranker (bot.core.sentence_model) on realtimeqa-dev and shows what it gains.

Every question of ../shared/eval/realtimeqa-dev is asked through the real bot (the bundled
model, hybrid retrieval, the relevance gate), on its quiz's date, against a knowledge base of
the whole corpus. The composer's `rank_sentences` is where every quotable sentence of the
candidate passages gets its features (bot.core.sentence_ranking); this script's composer
records them there. A sentence is positive when it contains one of the quiz's answers (folded as `crisisbot
eval` folds them). Every 7th question is held out, as for the relevance gate
(benchmarks/quality/fit_gate.py); the others are fitted by a logistic regression (scikit-learn,
standardised features, C = --c).

The report compares, on the held-out questions that have at least one positive sentence, how
often the first (and one of the first three) sentences holds the answer: ranked by the model,
and by the cosines it replaces (0.7 x the sentence's + 0.3 x its passage's). With --write the
model goes to bot/core/sentence_model.py, with `BONUS_SCALE`: the question-type, name and fact-
check bonuses of bot.core.quote_selection were set against the old ranking, where a sentence's
cosine weighed 0.7; on the model's log-odds a cosine weighs more (`cosine` and
`below_best_cosine` together), and the bonuses are scaled by the same ratio.

Run from the project root (`make calibrate-sentences`):

    .venv/bin/python -m benchmarks.quality.fit_sentences [--shared PATH] [--keep DIR] [--c C] [--write]

--keep DIR keeps (and reuses) the knowledge base: building it takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.common import PROJECT, REALTIMEQA, add_shared_option, make_log, revision

if TYPE_CHECKING:
    from bot.runtime.service import CrisisBot

log = make_log("fit-sentences")
MODEL_FILE = PROJECT / "bot" / "core" / "sentence_model.py"
OLD_COSINE_WEIGHT = 0.7  # the sentence's cosine in the ranking the model replaces


@dataclass
class Asked:
    """One question: its features (one row per sentence of the accepted passages), labels, and
    the cosine ranking it replaces."""

    features: np.ndarray
    labels: np.ndarray
    old_ranking: np.ndarray


def fold(text: str) -> str:
    from bot.runtime.evaluation import _folded

    return _folded(text)


def collect(bot: CrisisBot, queries: list[Any]) -> list[Asked]:
    """Ask every query; what the composer ranked, with labels from the quiz's answers."""
    from bot.core.composer import AnswerComposer
    from bot.core.sentence_ranking import RankedSentence, sentence_features

    recorded: list[tuple[np.ndarray, list[str], np.ndarray]] = []

    class Recording(AnswerComposer):
        def rank_sentences(self, question: str, sentences: list[RankedSentence], best_cosine: float,
                           best_probability: float) -> np.ndarray:
            old = np.array([OLD_COSINE_WEIGHT * s.cosine + (1 - OLD_COSINE_WEIGHT) * s.passage.cosine for s in sentences])
            recorded.append((sentence_features(question, sentences, best_cosine, best_probability),
                             [s.text for s in sentences], old))
            return super().rank_sentences(question, sentences, best_cosine, best_probability)

    base = bot.composer
    bot.composer = Recording(base.embedder, base.policy, base.document_text)  # type: ignore[misc]
    asked = []
    for n, query in enumerate(queries, start=1):
        recorded.clear()
        bot.ask(query.text, asked_at=query.asked_at)
        if recorded:
            features, sentences, old = recorded[0]
            answers = [fold(a) for a in query.answers if a.strip()]
            labels = np.array([any(a in fold(s) for a in answers) for s in sentences], dtype=float)
            asked.append(Asked(features, labels, old))
        if n % 200 == 0:
            log(f"asked {n} of {len(queries)}")
    return asked


def hit_rate(asked: list[Asked], ranking: Any, k: int) -> tuple[float, int]:
    """Share of questions (with a positive sentence) whose first k sentences hold the answer."""
    scored = [a for a in asked if a.labels.any()]
    hits = sum(bool(a.labels[np.argsort(-ranking(a), kind="stable")[:k]].any()) for a in scored)
    return (hits / len(scored) if scored else 0.0), len(scored)


def fit(asked: list[Asked], c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([a.features for a in asked])
    y = np.concatenate([a.labels for a in asked])
    log(f"fitting on {len(y):,} sentences ({int(y.sum()):,} positive) of {len(asked):,} questions")
    scaler = StandardScaler().fit(x)
    scales = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, max_iter=5000).fit((x - scaler.mean_) / scales, y)
    return scaler.mean_, scales, model.coef_[0], float(model.intercept_[0])


def render_model(means: np.ndarray, scales: np.ndarray, coefficients: np.ndarray, intercept: float,
                 bonus_scale: float, report: str) -> str:
    from bot.core.sentence_model import FEATURES

    def numbers(values: np.ndarray) -> str:
        return ", ".join(f"{v:.6g}" for v in values)

    return f'''"""The sentence ranker's model: a logistic regression over named sentence features.

GENERATED by benchmarks/quality/fit_sentences.py at commit {revision()}; do not edit by hand.
Regenerate with `make calibrate-sentences` (python -m benchmarks.quality.fit_sentences --write).
Each feature is standardised (minus its mean, over its scale), so a coefficient says how much
one spread of it moves the log-odds that the sentence holds the answer. Held out (every 7th
realtimeqa-dev question):
{textwrap.indent(report, "    ")}
"""

from __future__ import annotations

import numpy as np

FEATURES = {FEATURES!r}
MEANS = np.array([{numbers(means)}])
SCALES = np.array([{numbers(scales)}])
COEFFICIENTS = np.array([{numbers(coefficients)}])
INTERCEPT = {intercept:.6g}
BONUS_SCALE = {bonus_scale:.4g}  # see benchmarks/quality/fit_sentences.py


def log_odds(features: np.ndarray) -> np.ndarray:
    """Each row's log-odds (one row per sentence, one column per feature of FEATURES)."""
    return INTERCEPT + ((features - MEANS) / SCALES) @ COEFFICIENTS
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    add_shared_option(parser)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the knowledge base in this folder")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--write", action="store_true", help="write bot/core/sentence_model.py")
    args = parser.parse_args()

    from bot.core.sentence_model import FEATURES
    from bot.runtime.evaluation import load_dataset
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    dataset = load_dataset(args.shared / REALTIMEQA)
    with tempfile.TemporaryDirectory(prefix="crisisbot-fit-") as scratch:
        folder = args.keep or Path(scratch)
        bot = CrisisBot(load_settings(data_dir=folder, load_builtin_knowledge=False))
        try:
            if bot.store.document_count() == 0:
                log(f"building the knowledge base in {folder} (about 5 minutes)")
                bot.ingest(dataset.documents)
            held = collect(bot, dataset.queries[::7])
            train = collect(bot, [q for i, q in enumerate(dataset.queries) if i % 7])
        finally:
            bot.close()
    means, scales, coefficients, intercept = fit(train, args.c)
    lines = []
    for name, ranking in [("model", lambda a: ((a.features - means) / scales) @ coefficients),
                          ("cosines (0.7 sentence + 0.3 passage)", lambda a: a.old_ranking)]:
        top1, questions = hit_rate(held, ranking, 1)
        top3, _ = hit_rate(held, ranking, 3)
        lines.append(f"{name}: first sentence holds the answer {100 * top1:.1f}%, "
                     f"one of the first three {100 * top3:.1f}% ({questions} questions)")
    report = "\n".join(lines)
    weights = dict(zip(FEATURES, coefficients / scales))
    bonus_scale = (weights["cosine"] + weights["below_best_cosine"]) / OLD_COSINE_WEIGHT
    print(report)
    print("coefficients (standardised):", ", ".join(f"{n} {c:+.3f}" for n, c in zip(FEATURES, coefficients)))
    print(f"intercept {intercept:+.3f}; bonus scale {bonus_scale:.3f}")
    if args.write:
        MODEL_FILE.write_text(render_model(means, scales, coefficients, intercept, bonus_scale, report),
                              encoding="utf-8")
        log(f"wrote {MODEL_FILE.relative_to(PROJECT)}")


if __name__ == "__main__":
    main()
