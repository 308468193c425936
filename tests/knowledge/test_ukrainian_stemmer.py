"""The Ukrainian stemmer joins a word's case and tense forms and keeps different words apart."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.quality.ukrainian_stemmer import words
from knowledge.ukrainian_stemmer import MIN_STEM, stem

UKRAINIAN_LETTERS = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"


@pytest.mark.parametrize("forms", [
    "буча бучі бучу бучею",
    "харків харкова харкові харковом",
    "київ києва києві києвом",
    "україна україни україні україну україною",
    "маріуполь маріуполя маріуполі",
    "зеленський зеленського зеленському зеленським",
    "ракета ракети ракетами ракет",
    "загинули загинуло загинув загине",
    "окупанти окупантів окупантами",
    "зруйнований зруйнована зруйнованих зруйновано",
    "рік року",
    "відбувся відбулася відбулося",
])
def test_forms_of_one_word_share_a_stem(forms: str) -> None:
    assert len({stem(w) for w in forms.split()}) == 1, {w: stem(w) for w in forms.split()}


@pytest.mark.parametrize("pair", [
    "київ крим", "харків херсон", "буча бахмут", "ракета рада", "міст мир",
    "білорусь білий", "війна вона", "сила село",
])
def test_different_words_keep_different_stems(pair: str) -> None:
    first, second = pair.split()
    assert stem(first) != stem(second)


@pytest.mark.parametrize("word", ["зсу", "ми", "сша", "оон", "ссср"])
def test_short_words_and_acronyms_keep_their_letters(word: str) -> None:
    assert stem(word) == word


def test_apostrophes_inside_a_word_are_dropped() -> None:
    assert stem("об'єкт") == stem("обʼєкта") == stem("об’єкти") == "обєкт"


@given(st.text(alphabet=UKRAINIAN_LETTERS + "'ʼ’", min_size=1, max_size=25))
def test_a_stem_is_never_empty_nor_longer_than_its_word(word: str) -> None:
    result = stem(word)
    assert result or not word.strip("'ʼ’")
    assert len(result) <= len(word)


@given(st.text(alphabet=UKRAINIAN_LETTERS, min_size=MIN_STEM + 1, max_size=25))
def test_a_stem_keeps_at_least_the_minimum_or_the_whole_word(word: str) -> None:
    result = stem(word)
    assert len(result) >= MIN_STEM
    assert result[:-2] == word[: len(result) - 2]  # only the ending goes (and one vowel may alternate)


def test_stemming_a_stem_again_mostly_changes_nothing() -> None:
    vocabulary = words()
    assert len(vocabulary) > 800
    fixed = sum(stem(stem(w)) == stem(w) for w in vocabulary)
    assert fixed / len(vocabulary) >= 0.9
