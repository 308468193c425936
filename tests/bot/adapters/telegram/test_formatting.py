"""Telegram HTML formatting: escaping, links, splitting to the 4096 limit, the /sources listing.

Telegram refuses a whole message that is not valid HTML or is too long, so these tests parse
every produced message and measure it the way Telegram does (after entity parsing).
"""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

import pytest

from bot.core.answer import NO_ANSWER, Answer, Quote, Source
from bot.adapters.telegram.formatting import (
    MESSAGE_LIMIT,
    answer_messages,
    escape,
    sources_page,
    visible_length,
    visible_text,
)
from knowledge.documents import DocumentInfo, Kind
from tests.factories import document_info

TODAY = date(2026, 11, 26)

# The tags Telegram's HTML parse mode understands (Bot API, "HTML style").
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
                 "a", "tg-emoji", "code", "pre", "blockquote"}
_BAD_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


class _TelegramHTMLChecker(HTMLParser):
    """Records every way a message could make Telegram answer "can't parse entities"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.errors.append(f"unsupported tag <{tag}>")
        if tag == "a" and [name for name, _ in attrs] != ["href"]:
            self.errors.append(f"<a> needs exactly one href, got {attrs}")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1:] or 'anything'}")
        else:
            self.stack.pop()

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            self.errors.append(f"named entity &{name}; is not supported")

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.errors.append(f"unescaped bracket in {data!r}")


def assert_well_formed(message: str) -> None:
    checker = _TelegramHTMLChecker()
    checker.feed(message)
    checker.close()
    assert not checker.errors, (checker.errors, message)
    assert not checker.stack, (f"unclosed {checker.stack}", message)
    assert not _BAD_AMPERSAND.search(message), f"bare or cut entity in {message!r}"
    assert message == message.strip(), "Telegram strips outer whitespace; a part must not rely on it"


def assert_split_faithfully(parts: list[str], whole: str, limit: int = MESSAGE_LIMIT) -> None:
    """Each part fits and parses, and the parts read in order give back the whole text."""
    assert parts
    for part in parts:
        assert 0 < visible_length(part) <= limit, visible_length(part)
        assert_well_formed(part)
    rest = visible_text(whole)
    for part in parts:
        text = visible_text(part)
        rest = rest.lstrip()  # whitespace at a cut is dropped, nothing else
        assert rest.startswith(text), (text[:80], rest[:80])
        rest = rest[len(text):]
    assert rest == ""


def doc(**overrides: object) -> DocumentInfo:
    return document_info(**overrides)


def make_answer(texts: list[str], sources: list[DocumentInfo]) -> Answer:
    """Quote i comes from source i mod len(sources), numbered from 1 like the composer does."""
    numbered = [Source(n + 1, d, 0.5) for n, d in enumerate(sources)]
    quotes = [Quote(t, n % len(sources) + 1, n, 0, len(t), 0.5) for n, t in enumerate(texts)]
    return Answer("question?", quotes, numbered, 0.6)


def whole(answer: Answer) -> str:
    [message] = answer_messages(answer, TODAY, limit=10**9)
    return message


def sample_answer() -> Answer:
    return make_answer(
        ["Missiles hit two districts.", "Power was cut."],
        [doc(), doc(id="d2", title="Grid report", url=None, publisher=None, kind=Kind.ANALYSIS,
                    published="2024-11")],
    )


def test_escape_only_touches_what_telegram_parses() -> None:
    assert escape('a < b > c & "d" \'e\'') == 'a &lt; b &gt; c &amp; "d" \'e\''


def test_short_answer_is_one_message_in_the_documented_layout() -> None:
    # The two sources differ in date, so each quote's marker carries its source's date.
    assert answer_messages(sample_answer(), TODAY) == [
        'Missiles hit two districts. <a href="https://example.org/k">[1, 2026-11-20]</a> '
        "Power was cut. [2, 2024-11]\n"
        "\n"
        "<b>Sources</b>\n"
        '<b>[1]</b> <a href="https://example.org/k">Strikes on Kharkiv</a> — Example, news, '
        "as of 2026-11-20 (6 days ago)\n"
        "<b>[2]</b> Grid report — publisher unknown, analysis, as of 2024-11 (2 years ago)"
    ]


def test_quotes_from_sources_of_one_date_are_not_dated() -> None:
    answer = make_answer(["Missiles hit two districts.", "Power was cut."],
                         [doc(), doc(id="d2", title="Grid report", url=None)])
    [message] = answer_messages(answer, TODAY)
    assert message.startswith('Missiles hit two districts. <a href="https://example.org/k">[1]</a> '
                              "Power was cut. [2]\n\n<b>Sources</b>\n")
    assert visible_text(message).count("2026-11-20") == 2  # in the two source lines only


def test_an_unknown_date_is_said_with_its_quote_when_another_is_dated() -> None:
    answer = make_answer(["Troops & tanks <arrived>.", "More came."],
                         [doc(published="2024-10-20"), doc(id="d2", url=None, published=None)])
    [message] = answer_messages(answer, TODAY)
    assert_well_formed(message)
    assert message.startswith('Troops &amp; tanks &lt;arrived&gt;. <a href="https://example.org/k">'
                              "[1, 2024-10-20]</a> More came. [2, date unknown]\n\n")
    assert visible_text(message).endswith("Example, news, date unknown")


def test_article_text_is_escaped_in_quotes_titles_and_publishers() -> None:
    answer = make_answer(
        ["Shelling <b>hit</b> Kharkiv & Izium, a < b."],
        [doc(title="Live: <b>Kharkiv</b> & <script>", publisher="R&D <Lab>")],
    )
    [message] = answer_messages(answer, TODAY)
    assert_well_formed(message)
    assert "Shelling &lt;b&gt;hit&lt;/b&gt; Kharkiv &amp; Izium, a &lt; b." in message
    assert ">Live: &lt;b&gt;Kharkiv&lt;/b&gt; &amp; &lt;script&gt;</a>" in message
    assert "— R&amp;D &lt;Lab&gt;, news" in message
    assert "<b>hit" not in message and "<script>" not in message
    assert "Shelling <b>hit</b> Kharkiv & Izium, a < b." in visible_text(message)


def test_urls_are_escaped_for_the_attribute_in_markers_and_titles() -> None:
    url = 'https://example.org/a?x=1&y="2"'
    [message] = answer_messages(make_answer(["A quote."], [doc(url=url)]), TODAY)
    href = 'href="https://example.org/a?x=1&amp;y=&quot;2&quot;"'
    assert f"A quote. <a {href}>[1]</a>" in message
    assert f"<b>[1]</b> <a {href}>Strikes on Kharkiv</a>" in message
    assert_well_formed(message)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "vbscript:x"])
def test_a_url_that_is_not_http_is_never_a_link(url: str) -> None:
    """Issue 17: a `javascript:` URL stored before ingest checked URLs is not made clickable."""
    [message] = answer_messages(make_answer(["A quote."], [doc(url=url)]), TODAY)
    listing_text, _ = sources_page([doc(url=url)], 0, today=TODAY)
    from bot.adapters.telegram.kb_format import document_entry

    for html_text in (message, listing_text, document_entry(doc(url=url))):
        assert "<a" not in html_text and "script:" not in html_text.lower() and "data:" not in html_text


def test_marker_is_plain_without_url() -> None:
    [message] = answer_messages(make_answer(["A quote."], [doc(url=None)]), TODAY)
    assert message.startswith("A quote. [1]\n\n<b>Sources</b>\n<b>[1]</b> Strikes on Kharkiv — ")
    assert "<a" not in message


def test_no_answer_is_the_escaped_notice() -> None:
    assert answer_messages(Answer("what?"), TODAY) == [escape(NO_ANSWER)]


def test_visible_length_counts_after_entity_parsing() -> None:
    message = '<b>[1]</b> <a href="https://e.org/?a=1&amp;b=2">x &amp; y</a> &lt;3'
    assert visible_text(message) == "[1] x & y <3"
    assert visible_length(message) == 12
    assert visible_length("🙂") == 2  # Telegram counts UTF-16 code units


def test_dates_are_described_against_a_fixed_today() -> None:
    answer = make_answer(["One.", "Two.", "Three."],
                         [doc(published="2026-11-26"), doc(id="d2", published="2025-10-15"),
                          doc(id="d3", published=None)])
    text = visible_text(answer_messages(answer, TODAY)[0])
    assert "Example, news, as of 2026-11-26 (today)" in text
    assert "Example, news, as of 2025-10-15 (13 months ago)" in text
    assert "Example, news, date unknown" in text


def long_answer(dates: tuple[str | None, ...] = ("2026-11-20",)) -> tuple[Answer, list[str]]:
    """60 quotes of ~150 characters, one of 5,000 without sentence punctuation, 20 sources.

    Source i is dated `dates[i % len(dates)]`; several dates give every quote a dated marker.
    """
    base = "Officials said the strike on the {n} district damaged homes & a school <near> the river"
    texts = [(base.format(n=f"no. {i}") + " and cut power to thousands of residents overnight.")
             for i in range(60)]
    long_words = [f"word{i:04d}" for i in range(500)]
    texts.insert(30, " ".join(long_words))
    sources = [doc(id=f"d{i}", title=f"Report {i} on <Kharkiv> & Izium", publisher=f"Outlet {i}",
                   url=f"https://example.org/{i}?a=1&b=2" if i % 2 else None,
                   published=dates[i % len(dates)]) for i in range(20)]
    return make_answer(texts, sources), long_words


def test_long_answer_splits_into_valid_messages_that_read_back_as_the_whole() -> None:
    answer, long_words = long_answer()
    full = whole(answer)
    assert visible_length(full) > 3 * MESSAGE_LIMIT
    parts = answer_messages(answer, TODAY)
    assert len(parts) >= 4
    assert_split_faithfully(parts, full)
    # The 5,000-character quote is cut at spaces: every word arrives whole, exactly once.
    found = [w for part in parts for w in re.findall(r"\bword\d{4}\b", visible_text(part))]
    assert found == long_words
    # Outside that quote, cuts fall at quote boundaries: each part ends with a marker or a line.
    for part in parts:
        text = visible_text(part)
        assert text.endswith("]") or re.search(r"word\d{4}$", text) or text.endswith(")"), text[-60:]


MIXED_DATES = ("2024-10-20", "2024-11", None)


def test_dated_markers_count_towards_the_limit_and_stay_with_their_quotes() -> None:
    answer, _ = long_answer(MIXED_DATES)
    undated, _ = long_answer()
    assert visible_length(whole(answer)) > visible_length(whole(undated))  # the dates add length
    parts = answer_messages(answer, TODAY)
    assert_split_faithfully(parts, whole(answer))
    markers = [m for part in parts for m in re.findall(r"\[\d+(?:, [^\]]+)?\]", visible_text(part))]
    expected = [f"[{q.source}, {MIXED_DATES[(q.source - 1) % 3] or 'date unknown'}]" for q in answer.quotes]
    assert markers[:len(answer.quotes)] == expected  # every quote's marker arrives whole, dated
    for part in parts:
        text = visible_text(part)
        assert text.endswith("]") or re.search(r"word\d{4}$", text) or text.endswith(")"), text[-60:]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 14, 23, 64, 333, 1000, MESSAGE_LIMIT])
def test_any_limit_gives_valid_faithful_parts_with_dated_markers(limit: int) -> None:
    # Limits shorter than "[1, 2024-10-20]" (15) force a cut inside a marker; it must still parse.
    answer, _ = long_answer(MIXED_DATES)
    answer = Answer(answer.question, answer.quotes[:8], answer.sources[:8], 0.5)
    assert answer.dates_differ
    assert_split_faithfully(answer_messages(answer, TODAY, limit=limit), whole(answer), limit=limit)


def test_sources_block_starts_a_new_message_when_it_does_not_fit() -> None:
    texts = [f"Quote number {i} says something that matters about the front line." for i in range(45)]
    sources = [doc(id=f"d{i}", title=f"Report number {i} " + "x" * 60) for i in range(20)]
    answer = make_answer(texts, sources)
    parts = answer_messages(answer, TODAY)
    assert_split_faithfully(parts, whole(answer))
    assert len(parts) == 2
    assert visible_text(parts[0]).endswith("front line. [5]") and "Sources" not in parts[0]
    assert parts[1].startswith("<b>Sources</b>\n<b>[1]</b>")


def test_a_long_quote_is_cut_between_sentences_before_spaces() -> None:
    # "no. 7" is not a sentence end: a cut there would split a sentence needlessly.
    text = " ".join(f"Sentence {i} is about road no. {i} and more words in it." for i in range(40))
    answer = make_answer([text], [doc()])
    parts = answer_messages(answer, TODAY, limit=200)
    assert_split_faithfully(parts, whole(answer), limit=200)
    quote_parts = [visible_text(p) for p in parts if "Sentence" in visible_text(p)]
    for text_part in quote_parts[:-1]:
        assert text_part.endswith("in it."), text_part
    assert quote_parts[-1].startswith("Sentence 39 is about road no. 39 and more words in it. [1]\n\nSources")


def test_a_word_longer_than_the_limit_is_cut_inside_as_a_last_resort() -> None:
    answer = make_answer(["x" * 500], [doc(url=None)])
    parts = answer_messages(answer, TODAY, limit=100)
    assert_split_faithfully(parts, whole(answer), limit=100)
    assert [visible_length(p) for p in parts[:4]] == [100] * 4
    assert visible_text(parts[4]) == "x" * 99  # the last "x" stays with its glued marker
    assert visible_text(parts[5]).startswith("x [1]\n\nSources")


def test_a_cut_never_falls_inside_an_entity() -> None:
    answer = make_answer(["&" * 300 + " <&> " * 20], [doc(title="&" * 90)])
    for limit in (7, 37, 64):
        parts = answer_messages(answer, TODAY, limit=limit)
        assert_split_faithfully(parts, whole(answer), limit=limit)
        ampersands = [p for p in parts if set(visible_text(p)) == {"&"}]
        assert ampersands and all(p in {"&amp;" * visible_length(p), f"<a href=\"https://example.org/k\">{'&amp;' * visible_length(p)}</a>"}
                                  for p in ampersands)


def test_a_title_longer_than_the_limit_keeps_its_link_in_every_part() -> None:
    title = " ".join(f"t{i}" for i in range(200))
    answer = make_answer(["A quote."], [doc(title=title)])
    parts = answer_messages(answer, TODAY, limit=150)
    assert_split_faithfully(parts, whole(answer), limit=150)
    title_parts = [p for p in parts if "t1" in visible_text(p)]
    assert len(title_parts) > 2
    assert all('<a href="https://example.org/k">' in p for p in title_parts)


@pytest.mark.parametrize("limit", [1, 5, 23, 64, 333, 1000, MESSAGE_LIMIT])
def test_any_limit_gives_valid_faithful_parts(limit: int) -> None:
    answer, _ = long_answer()
    answer = Answer(answer.question, answer.quotes[:8], answer.sources[:8], 0.5)
    assert_split_faithfully(answer_messages(answer, TODAY, limit=limit), whole(answer), limit=limit)


def test_emoji_count_twice_towards_the_limit() -> None:
    answer = make_answer(["🙂" * 3000], [doc()])
    parts = answer_messages(answer, TODAY)
    assert len(parts) == 2  # 6,000 UTF-16 units, though only 3,000 characters
    assert_split_faithfully(parts, whole(answer))


def listing(count: int) -> list[DocumentInfo]:
    return [doc(id=f"d{i}", title=f"Doc {i}", url=None if i % 2 else f"https://e.org/{i}",
                published="2026-11-20") for i in range(count)]


def test_sources_page_lists_a_page_and_counts_pages() -> None:
    text, pages = sources_page(listing(20), 1, today=TODAY)
    assert pages == 3
    lines = text.split("\n")
    assert lines[0] == "Knowledge base: 20 documents (page 2 of 3)"
    assert lines[1] == '• <a href="https://e.org/8">Doc 8</a> — Example, news, as of 2026-11-20 (6 days ago)'
    assert lines[2] == "• Doc 9 — Example, news, as of 2026-11-20 (6 days ago)"
    assert len(lines) == 9


@pytest.mark.parametrize(("asked", "shown"), [(-5, 1), (0, 1), (2, 3), (99, 3)])
def test_sources_page_clamps_the_page(asked: int, shown: int) -> None:
    text, pages = sources_page(listing(20), asked, today=TODAY)
    assert pages == 3
    assert text.startswith(f"Knowledge base: 20 documents (page {shown} of 3)\n")
    assert text.count("\n•") == (4 if shown == 3 else 8)


def test_sources_page_of_an_empty_knowledge_base() -> None:
    assert sources_page([], 0) == ("The knowledge base is empty.", 1)
    assert sources_page([], 7, today=TODAY) == ("The knowledge base is empty.", 1)


def test_sources_page_escapes_and_handles_one_document() -> None:
    text, pages = sources_page(
        [doc(title="<b>Kharkiv</b> & co", publisher=None, url="https://e.org/?a=1&b=2",
             kind=Kind.OFFICIAL_STATEMENT, published=None)], 0, today=TODAY)
    assert pages == 1
    assert text == ("Knowledge base: 1 document (page 1 of 1)\n"
                    '• <a href="https://e.org/?a=1&amp;b=2">&lt;b&gt;Kharkiv&lt;/b&gt; &amp; co</a>'
                    " — publisher unknown, official-statement, date unknown")
    assert_well_formed(text)


def test_sources_page_shortens_huge_titles_so_a_page_fits() -> None:
    docs = [doc(id=f"d{i}", title="&<" * 5000, publisher="P" * 1000, url="https://e.org/x")
            for i in range(8)]
    text, _ = sources_page(docs, 0, today=TODAY)
    assert_well_formed(text)
    assert visible_length(text) <= MESSAGE_LIMIT
    entries = visible_text(text).split("\n")[1:]
    assert len(entries) == 8
    assert all(e.startswith("• &<&<") and "… — " in e and "P…, news" in e for e in entries)


def test_a_gap_between_quoted_spans_is_marked_and_a_cut_may_fall_before_the_mark() -> None:
    quotes = [Quote("Missiles hit two districts.", 1, 0, 0, 27, 0.5),
              Quote("Power was cut.", 1, 0, 60, 74, 0.5, gap_before=True)]
    answer = Answer("question?", quotes, [Source(1, doc(), 0.5)], 0.6)
    [message] = answer_messages(answer, TODAY)
    assert message.startswith('Missiles hit two districts. <a href="https://example.org/k">[1]</a> '
                              '[…] Power was cut. <a href="https://example.org/k">[1]</a>\n')
    parts = answer_messages(answer, TODAY, limit=40)
    assert not any(visible_text(part).rstrip().endswith("[…]") for part in parts)  # the mark stays with its quote
