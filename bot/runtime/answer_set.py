"""The labelled answer set: does what the bot *quotes* answer the question, about the right
subject, without passing a rebutted claim off as fact?

Retrieval metrics (`crisisbot eval`) say whether the right document was found; they cannot
see that a quote about Kreminna was given as the death toll of Bucha, or that a propaganda
line was quoted from the article that debunks it. This module scores answers against
hand-written questions (tests/data/answer_set.jsonl, tests/data/everyday_questions.jsonl)
whose gold strings are verbatim spans of the source texts, checked by plain string matching
on the quoted text after folding quotes, dashes, spaces and case, so a figure measured here
can be recomputed by anyone and never depends on a model's judgement.

Who asks is the caller's business: `run_answer_set` takes an `AskTurns`, one conversation in,
one reply per message out. A follow-up pair ("How many North Korean troops arrived in
Russia?", then "and what did Biden do?") is one conversation asked in order; every other
question is a conversation of its own. A reply is anything with `quotes` (an `Answer`) or
a notice with `wants_help` (small talk); both are read by duck typing so that this module
needs nothing but `bot.core.answer`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.answer import Quote

KINDS = ("fact", "number", "date", "why", "who", "latest", "follow-up", "other-place", "rebutted",
         "is-it-true")

# Words that show a quoted span does not present a claim as fact: it says the claim is false,
# unproven or someone's denial. Questions may name their own (`rebuttal`) when a claim's own
# wording contains one of these ("Western propaganda is lying ...").
REBUTTAL_MARKERS = (
    "false", "mistranslat", "debunk", "no evidence", "without evidence", "without providing any evidence",
    "propaganda", "misinformation", "disinformation", "baseless", "denied", "denies", "rejected",
    "not true", "fact check", "could not be verified", "could not be independently verified",
    "could not immediately be verified", "no such",
)

AskTurns = Callable[[list[str]], Sequence[Any]]  # one conversation: messages -> replies

_FOLDS = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ", "\u202f": " ", "\u2009": " ",
})


def fold(text: str) -> str:
    """Lower case, one kind of quote and dash, single spaces: "Ukraine’s" matches "Ukraine's"."""
    return re.sub(r"\s+", " ", text.translate(_FOLDS)).strip().lower()


def mentions(text: str, names: Iterable[str]) -> bool:
    """Whether folded `text` contains any of `names` (folded)."""
    folded = fold(text)
    return any(fold(name) in folded for name in names if name)


# -- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One labelled question. `source` names the document(s) the gold strings come from."""

    id: str
    question: str
    gold: tuple[str, ...]
    source: tuple[str, ...]
    kind: str
    about: tuple[str, ...] = ()
    not_about: tuple[str, ...] = ()
    rebutted: tuple[str, ...] = ()
    rebuttal: tuple[str, ...] = REBUTTAL_MARKERS
    follow_up_of: str | None = None

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Item:
        source = row["source"]
        return cls(
            id=str(row["id"]), question=str(row["question"]), gold=tuple(row["gold"]),
            source=(source,) if isinstance(source, str) else tuple(source), kind=str(row["kind"]),
            about=tuple(row.get("about", ())), not_about=tuple(row.get("not_about", ())),
            rebutted=tuple(row.get("rebutted", ())),
            rebuttal=tuple(row.get("rebuttal", REBUTTAL_MARKERS)),
            follow_up_of=row.get("follow_up_of"),
        )


def load_items(path: Path) -> list[Item]:
    """The answer set, one JSON object a line (blank lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Item.from_json(json.loads(line)) for line in lines if line.strip()]


def conversations(items: Sequence[Item]) -> list[list[Item]]:
    """The items grouped into conversations, in file order: a follow-up joins the conversation
    of the question it follows (a chain may be longer than two), every other item starts one."""
    chains: list[list[Item]] = []
    chain_of: dict[str, list[Item]] = {}
    for item in items:
        if item.follow_up_of is None:
            chain = [item]
            chains.append(chain)
        else:
            if item.follow_up_of not in chain_of:
                raise ValueError(f"{item.id} follows {item.follow_up_of!r}, which is not an earlier item")
            chain = chain_of[item.follow_up_of]
            chain.append(item)
        chain_of[item.id] = chain
    return chains


# -- judging one reply -----------------------------------------------------------------------


def quotes_of(reply: object) -> list[Quote]:
    return list(getattr(reply, "quotes", None) or [])


def quoted_documents(reply: object) -> frozenset[str]:
    """The ids of the documents the reply quotes from."""
    sources = list(getattr(reply, "sources", None) or [])
    return frozenset(sources[q.source - 1].document.id for q in quotes_of(reply) if 0 < q.source <= len(sources))


def wants_help(reply: object) -> bool:
    return bool(getattr(reply, "wants_help", False))


@dataclass(frozen=True)
class Verdict:
    """What one reply did for one item; `quoted` is its quotes' texts joined by " … "."""

    item: Item
    quoted: str
    answered: bool
    contains_gold: bool
    about_right: bool | None  # None when the item names no subject
    wrong_place: bool
    rebutted_as_fact: bool
    from_source: bool = False  # some quote comes from one of the item's source documents

    @property
    def correct(self) -> bool:
        """Gold quoted, about the subject, no wrong place, no rebutted claim passed as fact."""
        return (self.contains_gold and self.about_right is not False and not self.wrong_place
                and not self.rebutted_as_fact)


def judge(item: Item, reply: object) -> Verdict:
    """Score one reply by string matching on its quoted text.

    - contains gold: the quoted text contains any gold string;
    - about right: the quoted text names one of `about` (None when `about` is empty);
    - wrong place: some quote names a `not_about` place and none of `about`: the span is
      about somewhere else, whatever the rest of the answer says;
    - rebutted as fact: some quote contains a `rebutted` claim while the whole quoted text
      has none of the item's rebuttal markers (the rebuttal did not come with it);
    - from source: some quote comes from one of the item's `source` documents.
    """
    texts = [q.text for q in quotes_of(reply)]
    quoted = " … ".join(texts)
    wrong_place = bool(item.not_about) and any(
        mentions(t, item.not_about) and not mentions(t, item.about) for t in texts)
    rebutted = (any(mentions(t, item.rebutted) for t in texts) and not mentions(quoted, item.rebuttal))
    return Verdict(
        item=item,
        quoted=quoted,
        answered=bool(texts),
        contains_gold=bool(texts) and mentions(quoted, item.gold),
        about_right=mentions(quoted, item.about) if item.about else None,
        wrong_place=wrong_place,
        rebutted_as_fact=rebutted,
        from_source=bool(quoted_documents(reply) & set(item.source)),
    )


# -- the whole set -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """Counts over a group of verdicts (all, or one kind)."""

    questions: int = 0
    answered: int = 0
    contains_gold: int = 0
    with_subject: int = 0  # answered items that name `about`
    about_right: int = 0
    wrong_place: int = 0
    rebutted_as_fact: int = 0

    @classmethod
    def of(cls, verdicts: Iterable[Verdict]) -> Tally:
        vs = list(verdicts)
        return cls(
            questions=len(vs),
            answered=sum(v.answered for v in vs),
            contains_gold=sum(v.contains_gold for v in vs),
            with_subject=sum(v.answered and v.about_right is not None for v in vs),
            about_right=sum(v.answered and v.about_right is True for v in vs),
            wrong_place=sum(v.wrong_place for v in vs),
            rebutted_as_fact=sum(v.rebutted_as_fact for v in vs),
        )

    @property
    def answered_rate(self) -> float:
        return self.answered / self.questions if self.questions else 0.0

    @property
    def gold_rate(self) -> float:
        """Share of *all* questions whose quoted text contains the gold (declined = miss)."""
        return self.contains_gold / self.questions if self.questions else 0.0

    @property
    def about_rate(self) -> float:
        """Share of answered questions with a subject whose quotes name that subject."""
        return self.about_right / self.with_subject if self.with_subject else 0.0


@dataclass(frozen=True)
class Report:
    verdicts: list[Verdict]

    @property
    def total(self) -> Tally:
        return Tally.of(self.verdicts)

    def by_kind(self) -> dict[str, Tally]:
        groups: dict[str, list[Verdict]] = defaultdict(list)
        for v in self.verdicts:
            groups[v.item.kind].append(v)
        return {kind: Tally.of(groups[kind]) for kind in KINDS if kind in groups}

    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.correct]


def run_answer_set(items: Sequence[Item], ask_turns: AskTurns) -> Report:
    """Ask every conversation once, in order, and judge each reply against its own item."""
    verdicts: dict[str, Verdict] = {}
    for chain in conversations(items):
        replies = list(ask_turns([item.question for item in chain]))
        if len(replies) != len(chain):
            raise ValueError(f"{len(chain)} messages gave {len(replies)} replies")
        for item, reply in zip(chain, replies):
            verdicts[item.id] = judge(item, reply)
    return Report([verdicts[item.id] for item in items])


# -- the everyday questions ------------------------------------------------------------------


@dataclass(frozen=True)
class EverydayCase:
    """One conversation of the everyday questions, scored on its last reply.

    `expect` is "answer" (quotes that answer it) or "help" (small talk: the help text, not a
    search and not a refusal). An answer case earns `points` when its last reply is `correct`
    (see `Verdict.correct`), half of them (rounded down) when it is only partly right: it
    quotes the gold, or names the subject in a quote from one of the case's source documents
    (an older report on Kherson when the newest was asked for), without a wrong place or a
    rebutted claim passed as fact; nothing otherwise: a sentence that happens to name Kyiv
    in a report about Kharkiv is not partly right. A help case earns `points` when the reply wants the help text.
    """

    id: str
    turns: tuple[str, ...]
    points: int
    expect: str
    item: Item  # gold, about, not_about, rebutted of the last turn

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> EverydayCase:
        turns = tuple(row["turns"])
        fields = {"id": row["id"], "question": turns[-1], "kind": row.get("kind", "fact"),
                  "gold": row.get("gold", []), "source": row.get("source", [])}
        fields.update({k: row[k] for k in ("about", "not_about", "rebutted", "rebuttal") if k in row})
        return cls(id=str(row["id"]), turns=turns, points=int(row["points"]), expect=str(row["expect"]),
                   item=Item.from_json(fields))


def load_everyday(path: Path) -> list[EverydayCase]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [EverydayCase.from_json(json.loads(line)) for line in lines if line.strip()]


@dataclass(frozen=True)
class EverydayScore:
    case: EverydayCase
    points: int
    verdict: Verdict | None  # None for a help case
    replied_help: bool


@dataclass(frozen=True)
class EverydayReport:
    scores: list[EverydayScore] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(s.points for s in self.scores)

    @property
    def max_points(self) -> int:
        return sum(s.case.points for s in self.scores)


def score_everyday_reply(case: EverydayCase, reply: object) -> EverydayScore:
    if case.expect == "help":
        helped = wants_help(reply)
        return EverydayScore(case, case.points if helped else 0, None, helped)
    verdict = judge(case.item, reply)
    if verdict.correct:
        points = case.points
    elif (verdict.answered and (verdict.contains_gold or (verdict.about_right is True and verdict.from_source))
          and not verdict.wrong_place and not verdict.rebutted_as_fact):
        points = case.points // 2
    else:
        points = 0
    return EverydayScore(case, points, verdict, wants_help(reply))


def run_everyday(cases: Sequence[EverydayCase], ask_turns: AskTurns) -> EverydayReport:
    scores = []
    for case in cases:
        replies = list(ask_turns(list(case.turns)))
        if len(replies) != len(case.turns):
            raise ValueError(f"{len(case.turns)} messages gave {len(replies)} replies")
        scores.append(score_everyday_reply(case, replies[-1]))
    return EverydayReport(scores)
