"""The /kb grammar: what each subcommand's text reads as, its mistakes, and list pages in
button payloads within 64 bytes."""

from __future__ import annotations

import pytest

from bot.core.kb_requests import (
    BUTTON_EXPIRED,
    PAYLOAD_LIMIT,
    USAGE,
    AddTextRequest,
    AddUrlRequest,
    BareRequest,
    DocumentRequest,
    FeedRequest,
    GapsRequest,
    KindRequest,
    ListFilters,
    ListRequest,
    LogRequest,
    PageButtons,
    StatsRequest,
    UsageError,
    list_request,
    parse_request,
)


@pytest.mark.parametrize(
    ("subcommand", "rest", "body", "request_"),
    [
        ("add", "https://example.org/a", "", AddUrlRequest("https://example.org/a")),
        ("ADD", "https://example.org/a news", "", AddUrlRequest("https://example.org/a", "news")),
        ("text", " Grain corridor ", "Ships left.", AddTextRequest("Grain corridor", "Ships left.")),
        ("list", "", "", ListRequest()),
        ("list", '2 publisher="Kyiv Independent" kind=news', "",
         ListRequest(2, ListFilters(publisher="Kyiv Independent", kind="news"))),
        ("list", "SINCE=2024-01 until=2024-06", "", ListRequest(1, ListFilters(since="2024-01", until="2024-06"))),
        ("show", "doc3", "", DocumentRequest("show", "doc3")),
        ("remove", "doc3", "", DocumentRequest("remove", "doc3")),
        ("refresh", "doc3", "", DocumentRequest("refresh", "doc3")),
        ("kind", "doc3 fact-check", "", KindRequest("doc3", "fact-check")),
        ("log", "", "", LogRequest(1)),
        ("log", "3", "", LogRequest(3)),
        ("subscribe", "https://example.org/feed", "", FeedRequest("subscribe", "https://example.org/feed")),
        ("unsubscribe", "https://example.org/feed", "", FeedRequest("unsubscribe", "https://example.org/feed")),
        ("feeds", "", "", BareRequest("feeds")),
        ("poll", "", "", BareRequest("poll")),
        ("gaps", "", "", GapsRequest()),
        ("gaps", "2024-05", "", GapsRequest("2024-05")),
        ("stats", "", "", StatsRequest(8)),
        ("stats", "104", "", StatsRequest(104)),
    ],
)
def test_text_reads_as_the_request(subcommand: str, rest: str, body: str, request_: object) -> None:
    assert parse_request(subcommand, rest, body) == request_


@pytest.mark.parametrize(
    ("subcommand", "rest", "body", "message"),
    [
        ("add", "", "", f"Usage: {USAGE['add']}"),
        ("add", "a b c", "", f"Usage: {USAGE['add']}"),
        ("text", "Title only", "  ", f"Usage: {USAGE['text']}"),
        ("text", "", "Body without a title", f"Usage: {USAGE['text']}"),
        ("show", "", "", "Usage: /kb show <id>"),
        ("remove", "a b", "", "Usage: /kb remove <id>"),
        ("kind", "doc3", "", f"Usage: {USAGE['kind']}"),
        ("log", "two", "", "Usage: /kb log [page]"),
        ("stats", "-4", "", "Usage: /kb stats [weeks]"),
        ("gaps", "2024 2025", "", f"Usage: {USAGE['gaps']}"),
        ("list", "colour=red", "", f"I can't read 'colour=red'. Usage: {USAGE['list']}"),
        ("list", "kind=", "", f"I can't read 'kind='. Usage: {USAGE['list']}"),
        # issue 17: str.isdigit accepts these, and int() then refused them as "unexpected"
        ("list", "²", "", f"I can't read '²'. Usage: {USAGE['list']}"),
        ("list", "①", "", f"I can't read '①'. Usage: {USAGE['list']}"),
        ("list", "9" * 5000, "", f"I can't read '{'9' * 5000}'. Usage: {USAGE['list']}"),
        ("list", "1" * 10, "", f"I can't read '{'1' * 10}'. Usage: {USAGE['list']}"),
        ("list", "١٢", "", f"I can't read '١٢'. Usage: {USAGE['list']}"),
        ("log", "²", "", "Usage: /kb log [page]"),
        ("stats", "³", "", "Usage: /kb stats [weeks]"),
        ("stats", "9" * 5000, "", "Usage: /kb stats [weeks]"),
    ],
)
def test_mistakes_say_the_usage(subcommand: str, rest: str, body: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_request(subcommand, rest, body)
    assert str(raised.value) == message


def test_an_unknown_subcommand_is_the_callers_to_answer() -> None:
    with pytest.raises(KeyError):
        parse_request("frobnicate")


def test_slash_options_build_the_same_request_as_the_text() -> None:
    assert list_request(2, "Kyiv Independent", "news", None, "") == parse_request(
        "list", '2 publisher="Kyiv Independent" kind=news')
    empty = list_request(1, "", None, "", None)
    assert empty == ListRequest() and not empty.filters
    assert empty.filters.as_kwargs() == {"publisher": None, "kind": None, "since": None, "until": None}


@pytest.mark.parametrize(
    "filters",
    [ListFilters(), ListFilters(kind="news"), ListFilters(publisher="a=b&c d", since="2024-01-02"),
     ListFilters(publisher="Міністерство", until="2024")],
)
def test_page_payloads_round_trip_within_the_limit(filters: ListFilters) -> None:
    pages = PageButtons()
    for prefix in ("k:l:", "crisisbot:kb-list:next:"):
        data = pages.encode(prefix, 7, filters)
        assert data.startswith(prefix) and len(data.encode()) <= PAYLOAD_LIMIT
        assert pages.decode(data.removeprefix(prefix)) == ListRequest(7, filters)


def test_filters_too_long_for_a_payload_are_kept_under_a_number_until_forgotten() -> None:
    pages = PageButtons(keep=2)
    long = ListFilters(publisher="Ministry for the Reintegration of the Temporarily Occupied Territories")
    data = pages.encode("k:l:", 2, long)
    assert data == "k:l:2:@1" and pages.encode("k:l:", 3, long) == "k:l:3:@1"  # one key per filter set
    assert pages.decode("2:@1") == ListRequest(2, long)
    pages.encode("k:l:", 1, ListFilters(publisher="x" * 70))
    pages.encode("k:l:", 1, ListFilters(publisher="y" * 70))  # the third set pushes the first out
    assert pages.decode("2:@1") is None  # the adapter says BUTTON_EXPIRED
    assert pages.decode("2:@99") is None and pages.decode("2:@x") is None and pages.decode("next") is None
    assert BUTTON_EXPIRED == "This button is no longer active."


@pytest.mark.parametrize("payload", ["²", "2:@²", "9" * 5000, "1:@" + "9" * 5000, "1" * 10])
def test_a_payload_with_a_number_that_is_not_one_reads_as_nothing(payload: str) -> None:
    assert PageButtons().decode(payload) is None


def test_a_prefix_that_leaves_no_room_is_a_bug() -> None:
    with pytest.raises(ValueError):
        PageButtons().encode("p" * 64, 1, ListFilters())
