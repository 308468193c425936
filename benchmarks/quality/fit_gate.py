#!/usr/bin/env python
"""Fits the relevance gate (bot.core.gate_model) on labelled questions and chooses its threshold.

The gate turns a handful of named features of each retrieved passage (bot.core.relevance) into
a probability that the passage answers the question. This script asks real questions through
the real bot (the bundled model, hybrid retrieval, `retrieve_k` hits) and reads every hit's
features from `Answer.explanation`, so the model is fitted on exactly what it will see:

- RealTime QA (../shared/eval/realtimeqa-dev) against a knowledge base of its whole corpus,
  each question asked on its quiz's date: a hit whose document the qrels name is positive,
  the other hits negative. Every 7th question is held out (tests/bot/core/test_abstention.py
  asks those; the curve reports every 14th), the others are sampled for training (--queries);
- the 30 questions of tests/data/seed_questions.txt against the seed article alone: the best
  hit is positive (the other hits of one article may or may not answer; they are left out);
- off-topic questions, every hit negative: tests/data/off_topic_training.txt (written for this
  fit; tests/data/off_topic_questions.txt stays held out) against the seed article and against
  the RealTime QA corpus (asked on a quiz date, so ages look like the on-topic questions'),
  and Cranfield's aeronautics queries (../shared/eval/cranfield) against both.

A logistic regression (scikit-learn, standardised features, C = --c, balanced classes, each
seed question's hit weighing --seed-weight) is fitted on the hits; the features in NOT_FITTED
keep a coefficient of 0 (see there why). A question is answered when one of its hits reaches the threshold; the
threshold chosen (in steps of 0.01) is the highest at which the training RealTime QA questions
are still answered >= --answered (and the seed questions >= 29 of 30). The trade-off curve over thresholds is
printed, with the held-out sets beside it, and with --write the model goes to
bot/core/gate_model.py and the curve to docs/evaluation.md ("The relevance gate") and
docs/gate-curve.svg.

Run from the project root (`make calibrate`):

    .venv/bin/python -m benchmarks.quality.fit_gate [--shared PATH] [--keep DIR] [--queries N]
        [--c C] [--answered SHARE] [--write]

--keep DIR keeps the knowledge bases (DIR/seed-kb, DIR/realtimeqa-kb) for the next run;
--save FILE keeps the features asked, and --load FILE refits on them without asking again.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import textwrap
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import PROJECT, REALTIMEQA, add_shared_option, data_folders, make_log, read_jsonl, revision
from tests.questions import OFF_TOPIC_QUESTIONS, SEED_QUESTIONS, read_questions

if TYPE_CHECKING:
    from bot.runtime.service import CrisisBot
    from index.embedder import Embedder

log = make_log("fit-gate")
MODEL_FILE = PROJECT / "bot" / "core" / "gate_model.py"
DOCS_FILE = PROJECT / "docs" / "evaluation.md"
SVG_FILE = PROJECT / "docs" / "gate-curve.svg"
CURVE_START, CURVE_END = "<!-- gate-curve: written by benchmarks/quality/fit_gate.py -->", "<!-- /gate-curve -->"
THRESHOLDS = [round(0.01 * i, 2) for i in range(1, 100)]  # the table shows every 5th and the chosen
NOT_FITTED = ("term_share", "fact_check", "official", "analysis", "log_age")
"""Computed and shown by `ask --explain`, but kept at a coefficient of 0. `term_share` is
`idf_share` without the weights: fitted beside it, it took a negative coefficient (-0.43),
which no reader could make sense of, and three more held-out off-topic questions on the
statements were answered. The others stand for the data set, not for relevance. Every RealTime QA question's evidence comes from its
quiz's own week, so the age learns "this week's news" (-2.5 when fitted; a question asked today
about 2022 would then be declined for the age of its sources), and the seed article is the only
analysis (+3.0 when fitted), as no fact-check or official source is labelled at all."""


@dataclass
class Asked:
    """One question asked against one knowledge base: each hit's features, label and whether
    its passage holds one of the quiz's answers."""

    group: str
    question: str
    features: list[dict[str, float]]
    labels: list[int | None]  # 1, 0, or None (left out of the fit)
    holds_answer: list[bool] = field(default_factory=list)


def open_bot(folder: Path, embedder: Embedder, builtin: bool) -> CrisisBot:
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import load_settings

    bot = CrisisBot(load_settings(data_dir=folder, load_builtin_knowledge=builtin), embedder)
    bot.open()
    return bot


def ask(bot: CrisisBot, group: str, question: str, asked_at: object = None,
        label: object = None, answers: Sequence[str] = ()) -> Asked:
    """`label`: a set of positive document ids, "top" (the best hit positive, others left out)
    or None (every hit negative)."""
    answer = bot.ask(question, asked_at=asked_at)  # type: ignore[arg-type]
    candidates = answer.explanation.candidates
    labels: list[int | None] = []
    for rank, candidate in enumerate(candidates):
        if label == "top":
            labels.append(1 if rank == 0 else None)
        elif isinstance(label, set):
            labels.append(int(candidate.document_id in label))
        else:
            labels.append(0)
    holds = []
    if answers:
        texts = dict(bot.store.passage_texts([c.passage_id for c in candidates]))
        wanted = [a.lower() for a in answers]
        holds = [any(a in texts.get(c.passage_id, "").lower() for a in wanted) for c in candidates]
    return Asked(group, question, [dict(c.features) for c in candidates], labels, holds)


def collect(args: argparse.Namespace, root: Path) -> list[Asked]:
    from bot.runtime.evaluation import load_dataset
    from index.embedder import SentenceTransformerEmbedder, bundled_model_path

    embedder = SentenceTransformerEmbedder(bundled_model_path(), "all-MiniLM-L6-v2")
    rng = random.Random(19)
    off_topic = read_questions("off_topic_training.txt")
    cranfield = [str(r["text"]) for r in read_jsonl(args.shared / "eval/cranfield/queries.jsonl")]
    cranfield = rng.sample(cranfield, min(args.cranfield, len(cranfield)))
    asked: list[Asked] = []

    seed = open_bot(root / "seed-kb", embedder, builtin=True)
    log(f"seed article: {seed.store.document_count()} document(s)")
    asked += [ask(seed, "seed", q, label="top") for q in SEED_QUESTIONS]
    asked += [ask(seed, "off-topic/seed", q) for q in off_topic]
    asked += [ask(seed, "cranfield/seed", q) for q in cranfield]
    asked += [ask(seed, "held-out off-topic/seed", q) for q in OFF_TOPIC_QUESTIONS]
    seed.close()
    if args.seed_only:
        return asked

    dataset = load_dataset(args.shared / REALTIMEQA)
    news = open_bot(root / "realtimeqa-kb", embedder, builtin=False)
    started = time.perf_counter()
    report = news.ingest(dataset.documents)
    log(f"realtimeqa: {report.passages:,} passages embedded in {time.perf_counter() - started:.0f} s")
    stored_as = {new: old for new, old in report.unchanged if new != old}
    held = dataset.queries[::7][:: args.held_out_every]
    pool = [q for i, q in enumerate(dataset.queries) if i % 7]
    train = rng.sample(pool, min(args.queries, len(pool)))
    dates = [q.asked_at for q in dataset.queries]
    for n, (group, queries) in enumerate([("realtimeqa", train), ("held-out realtimeqa", held)]):
        for i, query in enumerate(queries):
            relevant = {stored_as.get(d, d) for d, grade in dataset.qrels.get(query.id, {}).items() if grade > 0}
            asked.append(ask(news, group, query.text, query.asked_at, relevant, query.answers))
            if i % 100 == 99:
                log(f"{group}: {i + 1} of {len(queries)}")
    asked += [ask(news, "off-topic/realtimeqa", q, rng.choice(dates)) for q in off_topic]
    asked += [ask(news, "cranfield/realtimeqa", q, rng.choice(dates)) for q in cranfield]
    asked += [ask(news, "held-out off-topic/realtimeqa", q) for q in OFF_TOPIC_QUESTIONS]
    news.close()
    return asked


# -- fitting --------------------------------------------------------------------------------


@dataclass
class Model:
    features: tuple[str, ...]
    means: list[float]
    scales: list[float]
    coefficients: list[float]
    intercept: float
    threshold: float = 0.5

    def probability(self, features: dict[str, float]) -> float:
        z = self.intercept + sum(c * (features[n] - m) / s for n, m, s, c in
                                 zip(self.features, self.means, self.scales, self.coefficients))
        return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0


def fit(asked: list[Asked], c: float, excluded: Sequence[str] = (), seed_weight: float = 1.0) -> Model:
    """Fit on every feature but `excluded`, which keep a coefficient of 0 (see NOT_FITTED)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from bot.core.gate_model import FEATURES

    fitted = [n for n in FEATURES if n not in excluded]
    rows, labels, weights = [], [], []
    for a in asked:
        if a.group.startswith("held-out"):
            continue
        for features, label in zip(a.features, a.labels):
            if label is not None:
                rows.append([features[n] for n in fitted])
                labels.append(label)
                weights.append(seed_weight if a.group == "seed" else 1.0)
    x, y = np.array(rows), np.array(labels)
    log(f"fitting on {len(y):,} hits ({int(y.sum()):,} positive)")
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit(
        scaler.transform(x), y, sample_weight=np.array(weights))
    at = {n: i for i, n in enumerate(fitted)}
    return Model(FEATURES,
                 [float(scaler.mean_[at[n]]) if n in at else 0.0 for n in FEATURES],
                 [float(scaler.scale_[at[n]]) if n in at else 1.0 for n in FEATURES],
                 [float(model.coef_[0][at[n]]) if n in at else 0.0 for n in FEATURES],
                 float(model.intercept_[0]))


def curve(asked: list[Asked], model: Model) -> dict[str, list[float]]:
    """Per group: the share answered at each threshold (for off-topic groups: declined); and
    for RealTime QA, of the answered, the share whose first accepted passage holds the answer."""
    best: dict[str, list[tuple[float, list[float], list[bool]]]] = {}
    for a in asked:
        ps = [model.probability(f) for f in a.features]
        best.setdefault(a.group, []).append((max(ps, default=0.0), ps, a.holds_answer))
    table: dict[str, list[float]] = {}
    for group, items in best.items():
        declining = "off-topic" in group or "cranfield" in group
        shares = []
        for t in THRESHOLDS:
            answered = sum(p >= t for p, _, _ in items)
            shares.append(100.0 * ((len(items) - answered) if declining else answered) / len(items))
        table[group] = shares
        if "realtimeqa" in group and not declining:
            holding = []
            for t in THRESHOLDS:
                firsts = [next((h[i] for i, p in enumerate(ps) if p >= t), None) for _, ps, h in items]
                kept = [f for f in firsts if f is not None]
                holding.append(100.0 * sum(kept) / len(kept) if kept else 0.0)
            table[group + " holds answer"] = holding
    return table


def choose(table: dict[str, list[float]], answered: float) -> float:
    """The highest threshold keeping training RealTime QA answered >= `answered` and the seed
    questions >= 29 of 30."""
    ok = [t for i, t in enumerate(THRESHOLDS)
          if table.get("realtimeqa", [100.0] * len(THRESHOLDS))[i] >= 100 * answered and table["seed"][i] >= 100 * 29 / 30]
    return max(ok) if ok else THRESHOLDS[0]


# -- output ---------------------------------------------------------------------------------

COLUMNS = [
    ("realtimeqa", "realtimeqa answered (train)"),
    ("held-out realtimeqa", "realtimeqa answered (held out)"),
    ("held-out realtimeqa holds answer", "accepted passage holds the answer (held out)"),
    ("seed", "seed questions answered"),
    ("off-topic/seed", "off-topic declined, seed (train)"),
    ("held-out off-topic/seed", "off-topic declined, seed (held out)"),
    ("cranfield/seed", "cranfield declined, seed"),
    ("off-topic/realtimeqa", "off-topic declined, news (train)"),
    ("held-out off-topic/realtimeqa", "off-topic declined, news (held out)"),
]


def markdown(table: dict[str, list[float]], model: Model, commit: str) -> str:
    lines = [f"Measured at commit {commit} with `make calibrate` "
             f"(`python -m benchmarks.quality.fit_gate --write`); chosen threshold **{model.threshold:.2f}**.",
             "", "| threshold | " + " | ".join(title for _, title in COLUMNS) + " |",
             "|---:|" + "---:|" * len(COLUMNS)]
    for i, t in enumerate(THRESHOLDS):
        if t != model.threshold and round(100 * t) % 5:
            continue
        mark = f"**{t:.2f}**" if t == model.threshold else f"{t:.2f}"
        lines.append(f"| {mark} | " + " | ".join(f"{table[k][i]:.1f}%" if k in table else "-"
                                               for k, _ in COLUMNS) + " |")
    lines += ["", "Standardised coefficients (feature: mean, scale, coefficient):", ""]
    lines += [f"- `{n}`: {m:.3f}, {s:.3f}, **{c:+.2f}**" for n, m, s, c in
              zip(model.features, model.means, model.scales, model.coefficients)]
    lines.append(f"- intercept {model.intercept:+.2f}")
    return "\n".join(lines)


def svg(table: dict[str, list[float]], threshold: float) -> str:
    """A small line chart, written by hand (matplotlib is not installed)."""
    width, height, left, bottom, top, right = 640, 360, 50, 40, 20, 230
    plot_w, plot_h = width - left - right, height - top - bottom
    colours = ["#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#ff7f0e"]
    keys = [("held-out realtimeqa", "realtimeqa answered"), ("held-out realtimeqa holds answer", "passage holds answer"),
            ("seed", "seed questions answered"), ("held-out off-topic/seed", "off-topic declined (seed)"),
            ("held-out off-topic/realtimeqa", "off-topic declined (news)")]

    def x(t: float) -> float:
        return left + plot_w * t

    def y(share: float) -> float:
        return top + plot_h * (1 - share / 100)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<line x1="{left}" y1="{y(0)}" x2="{x(1)}" y2="{y(0)}" stroke="black"/>',
             f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{y(100)}" stroke="black"/>',
             f'<line x1="{x(threshold):.1f}" y1="{y(0)}" x2="{x(threshold):.1f}" y2="{y(100)}" stroke="grey" stroke-dasharray="4"/>']
    for share in range(0, 101, 20):
        parts.append(f'<text x="{left - 6}" y="{y(share) + 4:.1f}" text-anchor="end">{share}%</text>')
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{x(tick):.1f}" y="{y(0) + 16:.1f}" text-anchor="middle">{tick:.2f}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">gate threshold (probability)</text>')
    for n, ((key, label), colour) in enumerate(zip(keys, colours)):
        if key not in table:
            continue
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(THRESHOLDS, table[key]))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(f'<line x1="{width - right + 15}" y1="{top + 10 + 18 * n}" x2="{width - right + 35}" '
                     f'y2="{top + 10 + 18 * n}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 40}" y="{top + 14 + 18 * n}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def model_module(model: Model, commit: str) -> str:
    def numbers(values: Sequence[float]) -> str:
        return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"

    names = textwrap.fill(", ".join(f'"{n}"' for n in model.features), 96,
                          initial_indent="    ", subsequent_indent="    ")

    return f'''"""The relevance gate's model: a logistic regression over named passage features.

GENERATED by benchmarks/quality/fit_gate.py at commit {commit}; do not edit by hand. Regenerate
with `make calibrate` (python -m benchmarks.quality.fit_gate --write); docs/evaluation.md, "The
relevance gate", describes the data and shows the trade-off curve. Each feature is standardised
(minus its mean, over its scale), so a coefficient says how much one spread of it moves the log-odds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

FEATURES = (
{names},
)
MEANS = {numbers(model.means)}
SCALES = {numbers(model.scales)}
COEFFICIENTS = {numbers(model.coefficients)}
INTERCEPT = {model.intercept:.6g}
THRESHOLD = {model.threshold:.2f}


def probability(features: Mapping[str, float]) -> float:
    """P(the passage answers the question) for the features named in FEATURES."""
    z = INTERCEPT + sum(c * (features[name] - m) / s
                        for name, m, s, c in zip(FEATURES, MEANS, SCALES, COEFFICIENTS))
    return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0
'''


def write_docs(text: str) -> None:
    docs = DOCS_FILE.read_text(encoding="utf-8")
    if CURVE_START not in docs:
        raise SystemExit(f"{DOCS_FILE} lacks the marker {CURVE_START!r}")
    head, rest = docs.split(CURVE_START, 1)
    _, tail = rest.split(CURVE_END, 1)
    DOCS_FILE.write_text(f"{head}{CURVE_START}\n{text}\n{CURVE_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_shared_option(parser)
    parser.add_argument("--keep", type=Path, help="keep the knowledge bases in this folder")
    parser.add_argument("--queries", type=int, default=300, help="training RealTime QA questions")
    parser.add_argument("--held-out-every", type=int, default=2,
                        help="ask every Nth of the held-out questions (every 7th of all) only")
    parser.add_argument("--cranfield", type=int, default=50, help="Cranfield queries asked")
    parser.add_argument("--c", type=float, default=0.5, help="inverse regularisation strength")
    parser.add_argument("--answered", type=float, default=0.95,
                        help="share of training RealTime QA questions that must stay answered")
    parser.add_argument("--seed-weight", type=float, default=2.0,
                        help="weight of each seed question's positive hit in the fit")
    parser.add_argument("--all-features", action="store_true", help="fit NOT_FITTED features too")
    parser.add_argument("--save", type=Path, help="save the asked questions' features (JSON) here")
    parser.add_argument("--load", type=Path, help="refit on features saved by --save, asking nothing")
    parser.add_argument("--seed-only", action="store_true", help="skip RealTime QA (a quick look)")
    parser.add_argument("--write", action="store_true", help="write gate_model.py and the docs")
    args = parser.parse_args(argv)
    if args.load:
        asked = [Asked(**record) for record in json.loads(args.load.read_text(encoding="utf-8"))]
    else:
        with data_folders(args.keep, "fit-gate-") as root:
            asked = collect(args, root)
    if args.save:
        args.save.write_text(json.dumps([asdict(a) for a in asked]), encoding="utf-8")
    model = fit(asked, args.c, [] if args.all_features else NOT_FITTED, args.seed_weight)
    table = curve(asked, model)
    model.threshold = choose(table, args.answered)
    commit = revision()
    text = markdown(table, model, commit)
    print(text)
    if args.write:
        MODEL_FILE.write_text(model_module(model, commit), encoding="utf-8")
        write_docs(text)
        SVG_FILE.write_text(svg(table, model.threshold), encoding="utf-8")
        log(f"wrote {MODEL_FILE.relative_to(PROJECT)}, {DOCS_FILE.relative_to(PROJECT)} and {SVG_FILE.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
