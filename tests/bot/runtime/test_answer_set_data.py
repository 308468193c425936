"""The labelled answer set stays honest: every gold string is a span of the document it is
credited to, follow-ups follow something asked before, and the set covers what issue 19 asks
for (facts, numbers, dates, why-questions, follow-up pairs, other places, rebutted claims)."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache

from bot.runtime.answer_set import KINDS, Item, conversations, fold, load_everyday, load_items
from tests.conftest import PROJECT, SEED_ARTICLE, shared_file

DATA = PROJECT / "tests" / "data"
ANSWER_SET = DATA / "answer_set.jsonl"
EVERYDAY = DATA / "everyday_questions.jsonl"
SEED_ID = SEED_ARTICLE.stem  # the built-in document's id is its file name


@cache
def corpus() -> dict[str, str]:
    """Folded text of every document the gold may come from: the seed article and news-2022."""
    body = SEED_ARTICLE.read_text(encoding="utf-8").split("---", 2)[2]  # not the front matter
    texts = {SEED_ID: fold(body)}
    for line in shared_file("corpus/news-2022.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts[row["id"]] = fold(row["text"])
    return texts


def missing_spans(item: Item) -> list[str]:
    texts = corpus()
    unknown = [s for s in item.source if s not in texts]
    assert not unknown, (item.id, unknown)
    return [g for g in item.gold if not any(fold(g) in texts[s] for s in item.source)]


def test_every_line_is_a_valid_item() -> None:
    rows = [json.loads(line) for line in ANSWER_SET.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        assert {"id", "question", "gold", "about", "source", "kind"} <= row.keys(), row
        assert row["kind"] in KINDS, row
        assert row["gold"] and all(isinstance(g, str) and g.strip() for g in row["gold"]), row
        assert row["question"].strip(), row


def test_ids_are_unique_and_follow_ups_follow_an_earlier_question() -> None:
    items = load_items(ANSWER_SET)
    ids = [i.id for i in items]
    assert len(ids) == len(set(ids))
    seen: set[str] = set()
    for i in items:
        assert i.follow_up_of is None or i.follow_up_of in seen, i.id
        seen.add(i.id)
    assert sum(len(chain) for chain in conversations(items)) == len(items)


def test_every_gold_string_is_a_span_of_its_source_document() -> None:
    problems = {i.id: missing for i in load_items(ANSWER_SET) if (missing := missing_spans(i))}
    assert problems == {}


def test_every_rebutted_claim_is_quoted_somewhere_in_the_corpus() -> None:
    texts = corpus().values()
    claims = [(i.id, c) for i in load_items(ANSWER_SET) for c in i.rebutted]
    assert [(q, c) for q, c in claims if not any(fold(c) in t for t in texts)] == []


def test_the_set_covers_what_the_issue_asks_for() -> None:
    items = load_items(ANSWER_SET)
    kinds = Counter(i.kind for i in items)
    assert len(items) >= 100
    assert all(kinds[k] >= 5 for k in ("fact", "number", "date", "why", "who")), kinds
    assert sum(i.follow_up_of is not None for i in items) >= 10
    assert sum(bool(i.not_about) for i in items) >= 10
    assert sum(bool(i.rebutted) for i in items) >= 5
    assert any(SEED_ID in i.source for i in items) and any(SEED_ID not in i.source for i in items)


def test_the_everyday_questions_are_worth_16_points_and_their_gold_is_in_the_texts() -> None:
    cases = load_everyday(EVERYDAY)
    assert sum(c.points for c in cases) == 16
    assert [c.id for c in cases if c.expect == "help"] == ["hello"]
    for c in cases:
        assert c.expect in ("answer", "help"), c.id
        if c.expect == "answer":
            assert c.item.gold and missing_spans(c.item) == [], c.id

