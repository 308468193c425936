from __future__ import annotations

from datetime import date

import pytest

from bot.core.answer import NO_ANSWER, Answer, Quote, Source, describe_date
from bot.core.render import link_url, render_markdown, render_plain
from knowledge.documents import DocumentInfo, Kind
from tests.factories import document_info, quoted_answer

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (None, "date unknown"),
        ("2024-11", "as of 2024-11 (2 years ago)"),
        ("2024", "as of 2024 (2 years ago)"),
        ("2026-11-20", "as of 2026-11-20 (6 days ago)"),
        ("2026-11-25", "as of 2026-11-25 (1 day ago)"),
        ("2026-11-26", "as of 2026-11-26 (today)"),
        ("2026-11", "as of 2026-11 (this month)"),
        ("2026-09-01", "as of 2026-09-01 (2 months ago)"),
        ("2025-10-15", "as of 2025-10-15 (13 months ago)"),
        ("2027-01", "as of 2027-01 (in the future)"),
    ],
)
def test_describe_date_keeps_precision_and_says_how_old(published: str | None, expected: str) -> None:
    assert describe_date(published, TODAY) == expected


def info(**overrides: object) -> DocumentInfo:
    return document_info(**{"title": "Strikes on *Kharkiv* [live]", **overrides})


def answer() -> Answer:
    sources = [Source(1, info(), 0.7), Source(2, info(id="d2", url=None, publisher=None, kind=Kind.ANALYSIS), 0.6)]
    quotes = [Quote("Missiles hit *two* districts.", 1, 10, 0, 29, 0.6), Quote("Power was cut.", 2, 11, 5, 19, 0.5)]
    return Answer("What happened in Kharkiv?", quotes, sources, 0.7)


def test_plain_rendering() -> None:
    assert render_plain(answer(), TODAY) == (
        "Missiles hit *two* districts. [1] Power was cut. [2]\n\nSources:\n"
        "[1] Strikes on *Kharkiv* [live] — Example, news, as of 2026-11-20 (6 days ago)\n"
        "    https://example.org/k\n"
        "[2] Strikes on *Kharkiv* [live] — publisher unknown, analysis, as of 2026-11-20 (6 days ago)"
    )


def test_markdown_escapes_article_text_and_links_titles() -> None:
    text = render_markdown(answer(), TODAY)
    assert "Missiles hit \\*two\\* districts. [1]" in text
    assert "1. [Strikes on \\*Kharkiv\\* \\[live\\]](https://example.org/k) — Example, news" in text
    assert "2. *Strikes on \\*Kharkiv\\* \\[live\\]* — publisher unknown, analysis" in text


def test_no_answer_renders_the_plain_decline() -> None:
    empty = Answer("Who won the cup?", best_passage_score=0.1)
    assert not empty.found
    assert render_plain(empty) == render_markdown(empty) == NO_ANSWER


def troop_reports(october: str | None = "2024-10-20", november: str | None = "2024-11") -> Answer:
    """Two reports of the same figure a month apart: the case per-quote dates exist for."""
    return quoted_answer(
        ["About 3,000 troops had arrived.", "Some *10,000* troops were deployed."],
        [document_info(title="Early report", published=october),
         document_info(id="d2", title="Later report", url=None, published=november)],
    )


def test_plain_dates_each_quote_when_the_sources_dates_differ() -> None:
    assert render_plain(troop_reports(), TODAY) == (
        "About 3,000 troops had arrived. [1, 2024-10-20] Some *10,000* troops were deployed. "
        "[2, 2024-11]\n\nSources:\n"
        "[1] Early report — Example, news, as of 2024-10-20 (2 years ago)\n"
        "    https://example.org/k\n"
        "[2] Later report — Example, news, as of 2024-11 (2 years ago)"
    )


def test_markdown_dates_each_quote_when_the_sources_dates_differ() -> None:
    body, sources = render_markdown(troop_reports(), TODAY).split("\n\n**Sources**\n\n")
    assert body == ("About 3,000 troops had arrived. [1, 2024-10-20] "
                    "Some \\*10,000\\* troops were deployed. [2, 2024-11]")
    assert sources.endswith("— Example, news, as of 2024-11 (2 years ago)")


def test_one_shared_date_is_left_to_the_source_list() -> None:
    answer = troop_reports(november="2024-10-20")
    plain = render_plain(answer, TODAY)
    assert plain.startswith("About 3,000 troops had arrived. [1] Some *10,000* troops were deployed. [2]\n")
    assert plain.count("2024-10-20") == 2  # once per source line, never with a quote
    markdown = render_markdown(answer, TODAY)
    assert "arrived. [1] Some" in markdown and "deployed. [2]\n" in markdown
    assert markdown.count("2024-10-20") == 2


def test_an_unknown_date_is_said_with_the_quote_and_in_the_source_list() -> None:
    answer = troop_reports(november=None)
    plain = render_plain(answer, TODAY)
    assert "arrived. [1, 2024-10-20] Some *10,000* troops were deployed. [2, date unknown]\n" in plain
    assert plain.endswith("[2] Later report — Example, news, date unknown")
    markdown = render_markdown(answer, TODAY)
    assert "deployed. [2, date unknown]\n" in markdown
    assert markdown.endswith("2. *Later report* — Example, news, date unknown")


# -- issue 17: only http(s) links, on every surface ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [("https://example.org/k", "https://example.org/k"), ("HTTP://example.org/k", "HTTP://example.org/k"),
     ("javascript:alert(1)", None), ("JavaScript://x%0aalert(1)", None), ("data:text/html,x", None),
     ("ftp://example.org/a", None), ("https:example.org", None), ("", None), (None, None)],
)
def test_link_url_passes_http_links_only(url: str | None, shown: str | None) -> None:
    assert link_url(url) == shown


def test_a_stored_javascript_url_is_never_rendered() -> None:
    bad = answer_with(info(url="javascript:alert(document.cookie)"))
    assert "javascript" not in render_markdown(bad, TODAY).lower()
    assert "javascript" not in render_plain(bad, TODAY).lower()
    assert "1. *Strikes on \\*Kharkiv\\* \\[live\\]* — Example" in render_markdown(bad, TODAY)


def answer_with(document: DocumentInfo) -> Answer:
    return Answer("q?", [Quote("Missiles hit.", 1, 10, 0, 13, 0.6)], [Source(1, document, 0.7)], 0.7)


def test_a_title_stored_with_bidi_controls_renders_straight_everywhere() -> None:
    """Bidi controls, zero-width characters and NUL in a stored title or publisher are dropped
    at render time, with the readers' own list (`knowledge.text.strip_invisible`)."""
    from bot.core.render import display_line, document_lines, source_line, subscription_lines
    from knowledge.feeds import Subscription
    from tests.bidi_titles import PUBLISHER, STORED_PUBLISHER, STORED_TITLE, TITLE, invisible_in

    stored = info(title=STORED_TITLE, publisher=STORED_PUBLISHER)
    bidi = Answer("Power?", [Quote("Power was cut.", 1, 10, 0, 14, 0.6)], [Source(1, stored, 0.7)], 0.7)
    assert source_line(bidi.sources[0], TODAY).startswith(f"[1] {TITLE} — {PUBLISHER}, news, as of")
    assert f"[1] {TITLE} — {PUBLISHER}, news" in render_plain(bidi, TODAY)
    assert f"1. [{TITLE}](https://example.org/k) — {PUBLISHER}, news" in render_markdown(bidi, TODAY)
    assert document_lines(stored, TODAY)[0] == f"d1  {TITLE}" and PUBLISHER in document_lines(stored, TODAY)[1]
    feed = Subscription("https://example.org/feed", STORED_TITLE, "t", "2026-11-20", None, None)
    assert subscription_lines([feed])[0] == f"{TITLE} — https://example.org/feed"
    for text in (render_plain(bidi, TODAY), render_markdown(bidi, TODAY), *document_lines(stored, TODAY)):
        assert invisible_in(text) == set()
    assert display_line("\u202e\u200b\x00", "Untitled") == "Untitled" and display_line(None, "-") == "-"


def gapped_answer() -> Answer:
    """Two spans of one passage that do not touch, then a span of another source."""
    quotes = [Quote("Missiles hit *two* districts.", 1, 10, 0, 29, 0.6),
              Quote("Power was cut.", 1, 10, 80, 94, 0.5, gap_before=True),
              Quote("Trains ran late.", 2, 11, 5, 21, 0.4, gap_before=True)]
    sources = [Source(1, info(), 0.7), Source(2, info(id="d2"), 0.6)]
    return Answer("What happened in Kharkiv?", quotes, sources, 0.7)


def test_plain_marks_each_gap_between_quoted_spans() -> None:
    body = render_plain(gapped_answer(), TODAY).split("\n")[0]
    assert body == "Missiles hit *two* districts. [1] […] Power was cut. [1] […] Trains ran late. [2]"


def test_markdown_marks_each_gap_between_quoted_spans() -> None:
    body = render_markdown(gapped_answer(), TODAY).split("\n")[0]
    assert body == "Missiles hit \\*two\\* districts. [1] […] Power was cut. [1] […] Trains ran late. [2]"


def test_a_quote_that_continues_the_one_before_has_no_gap_mark() -> None:
    assert "[…]" not in render_plain(answer(), TODAY)
