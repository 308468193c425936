#!/usr/bin/env python
"""Measures knowledge.ukrainian_stemmer against pymorphy3's Ukrainian lemmas (dev only).

pymorphy3-dicts-uk is GPLv3, so it stays a yardstick here and is never imported by the bot.
Over the distinct Ukrainian words of the sentences in data/ukrainian_sentences.txt (written
for this project), every pair of words is judged:

- same lemma: the share of such pairs that get the same stem (how often inflected forms of
  one word meet in BM25: recall of merges);
- different lemmas: the share that get different stems (how rarely unrelated words are
  conflated: precision of merges).

Pairs are counted over distinct words, so a frequent word weighs as much as a rare one.

    .venv/bin/python -m benchmarks.quality.ukrainian_stemmer [--show 20]
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

SENTENCES = Path(__file__).parent / "data" / "ukrainian_sentences.txt"
_WORD = re.compile(r"[а-щьюяєіїґ'’ʼ]+")


def words(path: Path = SENTENCES) -> list[str]:
    """Distinct lower-case Cyrillic words (apostrophes kept inside a word) of the sentences."""
    found: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            found.update(w.strip("'’ʼ").replace("’", "'").replace("ʼ", "'")
                         for w in _WORD.findall(line.lower()))
    return sorted(w for w in found if len(w) > 1)


def lemmas(vocabulary: list[str]) -> dict[str, str]:
    import pymorphy3  # dev only: GPLv3 dictionaries

    morph = pymorphy3.MorphAnalyzer(lang="uk")
    return {w: morph.parse(w)[0].normal_form for w in vocabulary}


def agreement(vocabulary: list[str], lemma: dict[str, str], stem: Callable[[str], str]) -> tuple[float, float, int, int]:
    """(same-lemma pairs with one stem, different-lemma pairs with different stems, counts)."""
    stems = {w: stem(w) for w in vocabulary}
    same = merged = different = apart = 0
    for a, b in combinations(vocabulary, 2):
        if lemma[a] == lemma[b]:
            same += 1
            merged += stems[a] == stems[b]
        else:
            different += 1
            apart += stems[a] != stems[b]
    return merged / max(same, 1), apart / max(different, 1), same, different


def misses(vocabulary: list[str], lemma: dict[str, str], stem: Callable[[str], str]) -> tuple[list[str], list[str]]:
    """Lemmas split over several stems, and stems shared by several lemmas (for tuning)."""
    by_lemma: dict[str, set[str]] = defaultdict(set)
    by_stem: dict[str, set[str]] = defaultdict(set)
    for w in vocabulary:
        by_lemma[lemma[w]].add(f"{w}->{stem(w)}")
        by_stem[stem(w)].add(f"{w}({lemma[w]})")
    split = [f"{k}: {sorted(v)}" for k, v in by_lemma.items() if len({x.split('->')[1] for x in v}) > 1]
    joined = [f"{k}: {sorted(v)}" for k, v in by_stem.items() if len({x.split('(')[1] for x in v}) > 1]
    return split, joined


def main() -> None:
    from knowledge.ukrainian_stemmer import stem

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=0, help="print this many split lemmas and joined stems")
    args = parser.parse_args()
    vocabulary = words()
    lemma = lemmas(vocabulary)
    print(f"{len(vocabulary)} distinct Ukrainian words, {len(set(lemma.values()))} lemmas")
    for name, function in (("no stemming", lambda w: w), ("ukrainian_stemmer", stem)):
        merged, apart, same, different = agreement(vocabulary, lemma, function)
        print(f"{name:18} same lemma -> same stem {merged:.1%} of {same} pairs;"
              f" different lemmas -> different stems {apart:.3%} of {different} pairs")
    if args.show:
        split, joined = misses(vocabulary, lemma, stem)
        print(f"\n{len(split)} lemmas split:", *split[: args.show], sep="\n  ")
        print(f"\n{len(joined)} stems joining lemmas:", *joined[: args.show], sep="\n  ")


if __name__ == "__main__":
    main()
