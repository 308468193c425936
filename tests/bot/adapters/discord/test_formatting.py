"""Discord embed formatting: escaping, marker links, splitting to every embed limit, /sources.

Discord refuses a whole message when one limit is crossed, so these tests measure every embed
and message the way Discord does (code points of title, description, field names and values,
footer and author name) and check that the split text reads back as the whole.
"""

from __future__ import annotations

import re
from datetime import date

import discord
import pytest

from bot.core.answer import NO_ANSWER, Answer, Quote, Source
from bot.adapters.discord.formatting import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    MAX_EMBEDS,
    MAX_FIELDS,
    answer_messages,
    embed_length,
    escape_markdown,
    message_length,
    sources_page,
)
from knowledge.documents import DocumentInfo, Kind
from tests.factories import document_info

TODAY = date(2026, 11, 26)
SPECIALS = "\\*_~`|>#-[]()<"
_ESCAPED = re.compile(r"\\[^0-9A-Za-z\s]")  # Discord drops the backslash before punctuation
_MARKER_LINK = re.compile(r"\[\[\d+(?:, (?:\d{4}(?:-\d\d){0,2}|date unknown))?\]\]\(https?://[^\s()<>\\]+\)")


def unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: m.group()[1], text)


def assert_markdown_intact(text: str) -> None:
    """Nothing but marker links and escaped characters: no cut link, no dangling backslash."""
    bare = _MARKER_LINK.sub("", _ESCAPED.sub("", text))
    assert not set(bare) & set(SPECIALS), (sorted(set(bare) & set(SPECIALS)), text[-80:])


def assert_within_limits(messages: list[list[discord.Embed]]) -> None:
    """Every documented limit, checked on what would be sent (`to_dict`), not on our own notes."""
    assert messages
    for embeds in messages:
        assert 1 <= len(embeds) <= MAX_EMBEDS
        assert message_length(embeds) <= EMBED_TOTAL_LIMIT
        for embed in embeds:
            data = embed.to_dict()
            assert len(data.get("title", "")) <= 256
            assert len(data.get("description", "")) <= DESCRIPTION_LIMIT
            assert len(data.get("fields", [])) <= MAX_FIELDS
            for item in data.get("fields", []):
                assert 0 < len(item["name"]) <= 256 and 0 < len(item["value"]) <= FIELD_VALUE_LIMIT
            assert len(data.get("footer", {}).get("text", "")) <= 2048
            assert data.get("title") or data.get("description") or data.get("fields")
            assert embed.colour == embeds[0].colour


def doc(**overrides: object) -> DocumentInfo:
    return document_info(**overrides)


def make_answer(texts: list[str], sources: list[DocumentInfo], question: str = "question?") -> Answer:
    """Quote i comes from source i mod len(sources), numbered from 1 like the composer does."""
    numbered = [Source(n + 1, d, 0.5) for n, d in enumerate(sources)]
    quotes = [Quote(t, n % len(sources) + 1, n, 0, len(t), 0.5) for n, t in enumerate(texts)]
    return Answer(question, quotes, numbered, 0.6)


def marker(answer: Answer, quote: Quote) -> str:
    """"[n]", dated "[n, 2024-11]" when the quoted sources' dates differ; linked if it can be."""
    dates = {answer.source(q.source).document.published for q in answer.quotes}
    published = answer.source(quote.source).document.published
    text = f"[{quote.source}]" if len(dates) == 1 else f"[{quote.source}, {published or 'date unknown'}]"
    url = answer.source(quote.source).document.url
    url = url and url.replace("(", "%28").replace(")", "%29")  # would end the markdown link
    return f"[{text}]({url})" if url else escape_markdown(text)


def expected_description(answer: Answer) -> str:
    """The unsplit description, built independently of the module's fragments."""
    return " ".join(f"{escape_markdown(q.text)} {marker(answer, q)}" for q in answer.quotes)


def descriptions(messages: list[list[discord.Embed]]) -> list[str]:
    return [e.description for embeds in messages for e in embeds if e.description]


def fields(messages: list[list[discord.Embed]]) -> list[tuple[str, str]]:
    return [(f.name or "", f.value or "") for embeds in messages for e in embeds for f in e.fields]


def assert_split_faithfully(messages: list[list[discord.Embed]], whole: str) -> None:
    rest = whole
    for text in descriptions(messages):
        rest = rest.lstrip()  # whitespace at a cut is dropped, nothing else
        assert rest.startswith(text), (text[:80], rest[:80])
        rest = rest[len(text):]
        assert_markdown_intact(text)
    assert rest == ""


def test_escape_markdown_backslashes_every_formatting_character() -> None:
    for char in SPECIALS:
        assert escape_markdown(f"a{char}b") == f"a\\{char}b"
    text = "**bold** __u__ ~~s~~ `code` ||spoiler|| > quote # head -# sub [fake](https://evil) <@123>"
    escaped = escape_markdown(text)
    assert "**" not in escaped.replace("\\*", "") and "](" not in escaped.replace("\\]\\(", "")
    assert unescape(escaped) == text


def test_escape_markdown_leaves_mentions_readable_and_stops_numbered_lists() -> None:
    assert escape_markdown("@everyone and @here, ping!") == "@everyone and @here, ping!"
    assert escape_markdown("1. first\n2. second 3.5") == "1\\. first\n2\\. second 3.5"
    assert unescape(escape_markdown("1. first\n2. second")) == "1. first\n2. second"


def sample_answer() -> Answer:
    return make_answer(
        ["Missiles hit two districts.", "Power was cut."],
        [doc(), doc(id="d2", title="Grid report", url=None, publisher=None, kind=Kind.ANALYSIS,
                    published="2024-11")],
        question="What happened in Kharkiv?",
    )


def test_short_answer_is_one_embed_in_the_documented_layout() -> None:
    # The two sources differ in date, so each quote's marker carries its source's date.
    [[embed]] = answer_messages(sample_answer(), TODAY)
    assert embed.title == "What happened in Kharkiv?"
    assert embed.description == ("Missiles hit two districts. [[1, 2026-11-20]](https://example.org/k) "
                                 "Power was cut. \\[2, 2024\\-11\\]")
    assert_markdown_intact(embed.description)
    assert fields([[embed]]) == [
        ("[1] Strikes on Kharkiv",
         "[Read](https://example.org/k) — Example, news, as of 2026-11-20 (6 days ago)"),
        ("[2] Grid report", "publisher unknown, analysis, as of 2024-11 (2 years ago)"),
    ]
    assert embed.footer.text == "Quoted verbatim from the sources below · 2 sources"
    assert all(not f.inline for f in embed.fields)


def test_quotes_from_sources_of_one_date_are_not_dated() -> None:
    answer = make_answer(["Missiles hit two districts.", "Power was cut."],
                         [doc(), doc(id="d2", title="Grid report", url=None)])
    [[embed]] = answer_messages(answer, TODAY)
    assert embed.description == "Missiles hit two districts. [[1]](https://example.org/k) Power was cut. \\[2\\]"
    assert [value for _, value in fields([[embed]])] == [
        "[Read](https://example.org/k) — Example, news, as of 2026-11-20 (6 days ago)",
        "Example, news, as of 2026-11-20 (6 days ago)"]


def test_an_unknown_date_is_said_with_its_quote_when_another_is_dated() -> None:
    answer = make_answer(["Troops arrived.", "More came.", "Then more."],
                         [doc(published=None), doc(id="d2", url=None, published="2024-10-20"),
                          doc(id="d3", url=None, published=None)])
    [[embed]] = answer_messages(answer, TODAY)
    assert embed.description == ("Troops arrived. [[1, date unknown]](https://example.org/k) "
                                 "More came. \\[2, 2024\\-10\\-20\\] Then more. \\[3, date unknown\\]")
    assert embed.description == expected_description(answer)
    assert_markdown_intact(embed.description)
    assert [value.rsplit(", ", 1)[1] for _, value in fields([[embed]])] == [
        "date unknown", "as of 2024-10-20 (2 years ago)", "date unknown"]


def test_article_and_question_text_cannot_format_or_fake_links() -> None:
    answer = make_answer(
        ["Shelling **hit** [Kharkiv](https://evil.example) @everyone."],
        [doc(title="Live: __Kharkiv__ `x`", publisher="R*D [Lab](https://evil)")],
        question="# Why @everyone?",
    )
    [[embed]] = answer_messages(answer, TODAY)
    assert embed.description == ("Shelling \\*\\*hit\\*\\* \\[Kharkiv\\]\\(https://evil.example\\) "
                                 "@everyone. [[1]](https://example.org/k)")
    assert_markdown_intact(embed.description or "")
    assert embed.title == "\\# Why @everyone?"
    [(name, value)] = fields([[embed]])
    assert name == "[1] Live: \\_\\_Kharkiv\\_\\_ \\`x\\`"
    assert value.startswith("[Read](https://example.org/k) — R\\*D \\[Lab\\]\\(https://evil\\), news")


def test_marker_links_use_only_safe_http_urls() -> None:
    answer = make_answer(["One.", "Two.", "Three."], [
        doc(url="https://example.org/a (b)<c>"),
        doc(id="d2", url="javascript:alert(1)"),
        doc(id="d3", url="https://example.org/" + "x" * 900),
    ])
    [[embed]] = answer_messages(answer, TODAY)
    assert embed.description == "One. [[1]](https://example.org/a%20%28b%29%3Cc%3E) Two. \\[2\\] Three. \\[3\\]"
    values = [value for _, value in fields([[embed]])]
    assert values[0].startswith("[Read](https://example.org/a%20%28b%29%3Cc%3E) — ")
    assert not values[1].startswith("[") and not values[2].startswith("[")  # not linked


def test_no_answer_is_one_embed_with_the_notice() -> None:
    [[embed]] = answer_messages(Answer("what?"), TODAY)
    assert embed.description == NO_ANSWER
    assert not embed.fields and embed.footer.text is None


def test_title_falls_back_to_answer_and_long_questions_are_cut() -> None:
    [[embed]] = answer_messages(make_answer(["A."], [doc()], question="  "), TODAY)
    assert embed.title == "Answer"
    [[embed]] = answer_messages(make_answer(["A."], [doc()], question="*" * 300), TODAY)
    assert embed.title == "\\*" * 127 + "…"  # never a lone backslash before the "…"
    assert embed.footer.text == "Quoted verbatim from the sources below · 1 source"


def test_embed_length_counts_what_discord_counts() -> None:
    embed = discord.Embed(title="ab", description="cde", url="https://not.counted", colour=1)
    embed.add_field(name="f", value="gh").set_footer(text="ijkl", icon_url="https://x.y/z.png")
    embed.set_author(name="mn", url="https://not.counted").set_image(url="https://not.counted")
    assert embed_length(embed) == 2 + 3 + 1 + 2 + 4 + 2
    assert embed_length(discord.Embed(description="🙂" * 10)) == 10  # code points, not UTF-16
    assert message_length([embed, discord.Embed(title="xyz")]) == 17


def long_answer(dates: tuple[str | None, ...] = ("2026-11-20",)) -> tuple[Answer, list[str]]:
    """80 quotes of ~200 characters, one of 6,000 without punctuation, 30 sources, 250-char titles.

    Source i is dated `dates[i % len(dates)]`; several dates give every quote a dated marker.
    """
    base = ("Officials said the strike on the *{n}* district damaged homes_and a [school] (near the "
            "river) and cut power to thousands of residents overnight, the regional governor told reporters on Tuesday.")
    texts = [base.format(n=f"no. {i}") for i in range(80)]
    long_words = [f"word{i:04d}" for i in range(667)]
    texts.insert(40, " ".join(long_words)[:6000])
    sources = [doc(id=f"d{i}", title=(f"Report {i} on <Kharkiv> & [Izium](x) " + "-_" * 130)[:250],
                   publisher=f"Outlet {i}", url=f"https://example.org/{i}?a=(1)" if i % 2 else None,
                   published=dates[i % len(dates)])
               for i in range(30)]
    return make_answer(texts, sources), long_words[:-1]


def test_long_answer_respects_every_limit_and_reads_back_as_the_whole() -> None:
    answer, long_words = long_answer()
    assert len(answer.quotes[40].text) == 6000 and all(len(q.text) > 190 for q in answer.quotes)
    messages = answer_messages(answer, TODAY)
    assert len(messages) >= 5
    assert_within_limits(messages)
    assert_split_faithfully(messages, expected_description(answer))
    found = [w for text in descriptions(messages) for w in re.findall(r"\bword\d{4}\b", text)]
    assert found[:len(long_words)] == long_words  # cut at spaces: each word whole, once
    # Titles and footer where they belong: the question first, the footer on the very last embed.
    assert messages[0][0].title == "question?"
    assert [e.title for embeds in messages for e in embeds].count("question?") == 1
    assert [e.footer.text for embeds in messages for e in embeds if e.footer.text] == [
        "Quoted verbatim from the sources below · 30 sources"]
    assert messages[-1][-1].footer.text


def test_long_answer_cuts_between_quotes_where_it_can() -> None:
    answer, _ = long_answer()
    for text in descriptions(answer_messages(answer, TODAY)):
        assert text.endswith(")") or text.endswith("\\]") or re.search(r"word\d{4}$", text), text[-60:]


def test_long_answer_lists_every_source_once_in_order_within_limits() -> None:
    answer, _ = long_answer()
    listed = fields(answer_messages(answer, TODAY))
    assert [name.split(" ", 1)[0] for name, _ in listed] == [f"[{n}]" for n in range(1, 31)]
    for (name, value), source in zip(listed, answer.sources):
        title = name.split(" ", 1)[1]
        assert len(name) <= 256 and title.endswith("…") and not title.endswith("\\…")
        assert source.document.title.startswith(unescape(title[:-1]))
        assert value.endswith("news, as of 2026-11-20 (6 days ago)")
        assert value.startswith(f"[Read](https://example.org/{source.number - 1}?a=%281%29) — "
                                if source.document.url else "Outlet ")


MIXED_DATES = ("2024-10-20", "2024-11", None)


def test_long_answer_with_dated_markers_respects_every_limit() -> None:
    answer, long_words = long_answer(MIXED_DATES)
    undated, _ = long_answer()
    assert len(expected_description(answer)) > len(expected_description(undated)) + 80 * 10
    messages = answer_messages(answer, TODAY)
    assert_within_limits(messages)
    assert_split_faithfully(messages, expected_description(answer))
    found = [w for text in descriptions(messages) for w in re.findall(r"\bword\d{4}\b", text)]
    assert found[:len(long_words)] == long_words
    dated = re.compile(r"\[\[\d+, [^\]]+\]\]\([^)\s]+\)|\\\[\d+, [\w\\ -]+?\\\]")
    found = [m for text in descriptions(messages) for m in dated.findall(text)]
    assert found == [marker(answer, quote) for quote in answer.quotes]  # each whole, in one embed
    assert sum("date unknown" in m for m in found) == sum((q.source - 1) % 3 == 2 for q in answer.quotes)
    for text in descriptions(messages):
        assert text.endswith(")") or text.endswith("\\]") or re.search(r"word\d{4}$", text), text[-60:]


def test_fields_continue_in_new_embeds_and_messages_at_25_fields_and_10_embeds() -> None:
    sources = [doc(id=f"d{i}", title="T", publisher="P", url=None, published=None)
               for i in range(260)]
    answer = make_answer(["A quote."], sources)
    messages = answer_messages(answer, TODAY)
    assert_within_limits(messages)
    assert len(fields(messages)) == 260
    assert max(len(e.fields) for embeds in messages for e in embeds) == MAX_FIELDS
    assert [name for name, _ in fields(messages)] == [f"[{n}] T" for n in range(1, 261)]


def test_ten_embeds_a_message_then_a_new_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.adapters.discord.formatting.MAX_FIELDS", 1)
    sources = [doc(id=f"d{i}", title="T", publisher="P", url=None) for i in range(25)]
    messages = answer_messages(make_answer(["A quote."], sources), TODAY)
    assert [len(embeds) for embeds in messages] == [10, 10, 5]
    assert [len(e.fields) for embeds in messages for e in embeds] == [1] * 25


@pytest.mark.parametrize("text", ["_" * 9000, "x" * 9000, "\\" * 5000 + " " + "[(" * 3000])
def test_words_longer_than_a_description_are_cut_inside_but_never_inside_an_escape(text: str) -> None:
    answer = make_answer([text], [doc()])
    messages = answer_messages(answer, TODAY)
    assert_within_limits(messages)
    assert_split_faithfully(messages, expected_description(answer))
    assert len(descriptions(messages)) >= 3


def listing(count: int) -> list[DocumentInfo]:
    return [doc(id=f"d{i}", title=f"Doc {i}", url=None if i % 2 else f"https://e.org/{i}",
                published="2026-11-20") for i in range(count)]


def test_sources_page_lists_a_page_and_counts_pages() -> None:
    embed, pages = sources_page(listing(23), 1, today=TODAY)
    assert pages == 3
    assert embed.title == "Knowledge base"
    lines = (embed.description or "").split("\n")
    assert len(lines) == 10
    assert lines[0] == "• [Doc 10](https://e.org/10) — Example, news, as of 2026-11-20 (6 days ago)"
    assert lines[1] == "• Doc 11 — Example, news, as of 2026-11-20 (6 days ago)"
    assert embed.footer.text == "Page 2 of 3 · 23 documents"


@pytest.mark.parametrize(("asked", "shown"), [(-5, 1), (0, 1), (2, 3), (99, 3)])
def test_sources_page_clamps_the_page(asked: int, shown: int) -> None:
    embed, pages = sources_page(listing(23), asked, today=TODAY)
    assert pages == 3
    assert embed.footer.text == f"Page {shown} of 3 · 23 documents"
    assert (embed.description or "").count("•") == (3 if shown == 3 else 10)
    assert (embed.description or "").startswith(f"• [Doc {(shown - 1) * 10}]")


def test_sources_page_of_an_empty_knowledge_base() -> None:
    for page in (0, 7):
        embed, pages = sources_page([], page, today=TODAY)
        assert pages == 1
        assert embed.description == "The knowledge base is empty."
        assert embed.footer.text == "Page 1 of 1 · 0 documents"


def test_sources_page_escapes_and_handles_one_document() -> None:
    embed, pages = sources_page(
        [doc(title="**Kharkiv** [x](y)", publisher=None, url="https://e.org/?a=(1)",
             kind=Kind.OFFICIAL_STATEMENT, published=None)], 0, today=TODAY)
    assert pages == 1
    assert embed.description == ("• [\\*\\*Kharkiv\\*\\* \\[x\\]\\(y\\)](https://e.org/?a=%281%29)"
                                 " — publisher unknown, official-statement, date unknown")
    assert embed.footer.text == "Page 1 of 1 · 1 document"


@pytest.mark.parametrize("per_page", [1, 10, 25])
def test_sources_page_shortens_huge_entries_so_a_page_fits(per_page: int) -> None:
    docs = [doc(id=f"d{i}", title="*_" * 5000, publisher="P" * 1000,
                url="https://e.org/" + "u" * (700 if i % 2 else 100)) for i in range(30)]
    embed, pages = sources_page(docs, 0, per_page=per_page, today=TODAY)
    assert pages == -(-30 // per_page)
    assert_within_limits([[embed]])
    entries = (embed.description or "").split("\n")
    assert len(entries) == per_page
    assert all(e.count("…") == 2 and "P…, news" in e and "\\…" not in e for e in entries)
    # A link that would crowd out the title is dropped; the title stays, unlinked.
    linked = [e.startswith("• [\\*\\_") for e in entries]
    unlinked = [e.startswith("• \\*\\_") for e in entries]
    assert [a or b for a, b in zip(linked, unlinked)] == [True] * per_page
    if per_page == 10:  # room for a 100-character URL, not for one of 700
        assert linked[:2] == [True, False]
    if per_page == 25:  # room for neither
        assert not any(linked)


@pytest.mark.parametrize("per_page", [0, 26])
def test_sources_page_refuses_a_page_size_that_cannot_fit(per_page: int) -> None:
    with pytest.raises(ValueError):
        sources_page(listing(3), 0, per_page=per_page)


def test_a_gap_between_quoted_spans_is_marked() -> None:
    quotes = [Quote("Missiles hit two districts.", 1, 0, 0, 27, 0.5),
              Quote("Power was cut.", 1, 0, 60, 74, 0.5, gap_before=True)]
    answer = Answer("question?", quotes, [Source(1, doc(), 0.5)], 0.6)
    [[embed]] = answer_messages(answer, TODAY)
    assert embed.description == ("Missiles hit two districts. [[1]](https://example.org/k) "
                                 "\\[…\\] Power was cut. [[1]](https://example.org/k)")
    assert_markdown_intact(embed.description)
