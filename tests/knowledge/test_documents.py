"""Kinds, partial publication dates and content hashes of documents."""

from __future__ import annotations

import hashlib
from dataclasses import FrozenInstanceError
from datetime import date, datetime

import pytest

from knowledge.documents import Document, Kind, content_hash, parse_published
from knowledge.errors import CrisisbotError, SourceError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("official-statement", Kind.OFFICIAL_STATEMENT),
        ("Official Statement", Kind.OFFICIAL_STATEMENT),
        ("official_statement", Kind.OFFICIAL_STATEMENT),
        ("  NEWS ", Kind.NEWS),
        ("analysis", Kind.ANALYSIS),
        ("Fact check", Kind.FACT_CHECK),
        ("fact-check", Kind.FACT_CHECK),
        (Kind.OFFICIAL_STATEMENT, Kind.OFFICIAL_STATEMENT),
        (None, Kind.OTHER),
        ("", Kind.OTHER),
    ],
)
def test_kind_parse_accepts_spellings(value: object, expected: Kind) -> None:
    assert Kind.parse(value) is expected


def test_kind_parse_rejects_unknown_kind_listing_the_allowed_ones() -> None:
    with pytest.raises(SourceError) as caught:
        Kind.parse("blog")
    message = str(caught.value)
    assert "'blog'" in message
    for kind in Kind:
        assert kind.value in message


def test_source_error_is_a_user_facing_error() -> None:
    assert issubclass(SourceError, CrisisbotError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2024, "2024"),
        ("2024", "2024"),
        ("2024-11", "2024-11"),
        ("2024-11-20", "2024-11-20"),
        (" 2024-11-20 ", "2024-11-20"),
        (date(2024, 11, 20), "2024-11-20"),
        (datetime(2024, 11, 20, 23, 59), "2024-11-20"),
        ("2024-11-20T10:00:00Z", "2024-11-20"),
        ("2024-11-20T10:00:00+02:00", "2024-11-20"),
        ("2024-02-29", "2024-02-29"),  # a leap day
    ],
)
def test_parse_published_keeps_the_given_precision(value: object, expected: str) -> None:
    assert parse_published(value) == expected


@pytest.mark.parametrize("value", [None, "", "   ", "unknown", "Unknown", "null", "None"])
def test_parse_published_unknown_dates_are_none(value: object) -> None:
    assert parse_published(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2024-13", "no such date"),
        ("2024-02-30", "no such date"),
        ("2023-02-29", "no such date"),
        ("Nov 2024", "YYYY-MM-DD"),
        ("20-11-2024", "YYYY-MM-DD"),
        ("2024/11/20", "YYYY-MM-DD"),
        ("2024-1-5", "YYYY-MM-DD"),
        ("yesterday", "YYYY-MM-DD"),
    ],
)
def test_parse_published_rejects_bad_dates_clearly(value: str, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_published(value)
    message = str(caught.value)
    assert repr(value) in message
    assert reason in message


@pytest.mark.parametrize("value", ["2024-00", "2024-11-00", "2024-00-10"])
def test_parse_published_rejects_zero_month_or_day(value: str) -> None:
    with pytest.raises(SourceError, match="no such date"):
        parse_published(value)


def test_document_hash_is_sha256_of_utf8_text() -> None:
    text = "Київ, 24 February 2022 — the war began."
    document = Document(id="d1", title="T", text=text)
    assert document.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert document.sha256 == content_hash(text)


def test_document_hash_depends_on_text_only() -> None:
    a = Document(id="a", title="One", text="Same words.", url="https://a.example")
    b = Document(id="b", title="Two", text="Same words.", kind=Kind.NEWS)
    c = Document(id="a", title="One", text="Other words.")
    assert a.sha256 == b.sha256
    assert a.sha256 != c.sha256


def test_document_keeps_an_explicit_hash_and_defaults() -> None:
    document = Document(id="a", title="T", text="x", sha256="given")
    assert document.sha256 == "given"
    plain = Document(id="b", title="T", text="x")
    assert (plain.kind, plain.language, plain.url, plain.published) == (Kind.OTHER, "en", None, None)


def test_document_is_immutable() -> None:
    document = Document(id="a", title="T", text="x")
    with pytest.raises(FrozenInstanceError):
        document.text = "changed"  # type: ignore[misc]


def test_a_document_without_a_stated_language_is_filed_under_the_language_of_its_text() -> None:
    ukrainian = Document(id="u", title="Удари по Києву", text="Російські ракети влучили в енергетичні об'єкти Києва.")
    russian = Document(id="r", title="Удары по Киеву", text="Российские ракеты попали в энергетические объекты Киева.")
    english = Document(id="e", title="Strikes on Kyiv", text="Russian missiles hit energy facilities in Kyiv.")
    assert (ukrainian.language, russian.language, english.language) == ("uk", "ru", "en")
    assert Document(id="n", title="1", text="2024 — 2025").language == "en"  # nothing to read: the default
    # What the source (or the admin) states is kept, even when the text disagrees.
    assert Document(id="s", title="Удари", text="Текст українською.", language="ru").language == "ru"
