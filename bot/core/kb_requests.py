"""The `/kb` request grammar, once for every front end: what each subcommand takes, how its
arguments are read and checked, and how a page of `/kb list` travels in a button.

Telegram parses the text of a message into these requests (`parse_request`); Discord builds the
same objects from its slash options through the same constructors, and the terminal from its
parsed arguments. So a filter, a page number or a limit means the same wherever it is typed,
and a mistake is told in the same words. Limits themselves (pages, weeks) stay the admin
operations' own, checked once in `bot.core.admin`.
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from knowledge.errors import CrisisbotError

from bot.core.messages import (  # the sentences of this flow live with all the others
    USAGE as USAGE,
    USAGE_LINE as USAGE_LINE,
    UNREADABLE as UNREADABLE,
    UNKNOWN_SUBCOMMAND as UNKNOWN_SUBCOMMAND,
    BUTTON_EXPIRED as BUTTON_EXPIRED,
)

# -- limits -------------------------------------------------------------------------------------

PER_PAGE = 10  # documents on a page of /kb list
LOG_PER_PAGE = 20  # audit entries on a page of /kb log
DEFAULT_STATS_WEEKS = 8
MAX_NUMBER_DIGITS = 9  # a page, a week count: more digits is a typo, and overflows SQLite's offsets
PAYLOAD_LIMIT = 64  # bytes of a button's data: Telegram's callback data (Discord allows 100)
MAX_KEPT_FILTERS = 256  # filter sets kept for buttons whose filters do not fit in the payload

FILTER_NAMES = ("publisher", "kind", "since", "until")
_SHORT = {"publisher": "p", "kind": "k", "since": "s", "until": "u"}  # keys inside a payload


class UsageError(CrisisbotError):
    """A /kb command that is missing an argument or has one it cannot read."""

    def __init__(self, subcommand: str, problem: str = "") -> None:
        usage = USAGE_LINE.format(usage=USAGE[subcommand])
        super().__init__(f"{problem} {usage}" if problem else usage)
        self.subcommand = subcommand


# -- the requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilters:
    """Which documents `/kb list` shows; empty values mean "any"."""

    publisher: str | None = None
    kind: str | None = None
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        for name in FILTER_NAMES:  # "" from an empty option is no filter
            if not getattr(self, name):
                object.__setattr__(self, name, None)

    def items(self) -> Iterator[tuple[str, str]]:
        """The filters in use, by name, in a fixed order."""
        for name in FILTER_NAMES:
            value = getattr(self, name)
            if value:
                yield name, value

    def as_kwargs(self) -> dict[str, str | None]:
        """Keyword arguments for `KnowledgeAdmin.list`."""
        return {name: getattr(self, name) for name in FILTER_NAMES}

    def __bool__(self) -> bool:
        return any(True for _ in self.items())


@dataclass(frozen=True)
class ListRequest:
    """`/kb list`: a page (from 1) of the documents that pass `filters`."""

    page: int = 1
    filters: ListFilters = field(default_factory=ListFilters)
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class AddUrlRequest:
    url: str
    kind: str | None = None


@dataclass(frozen=True)
class AddTextRequest:
    title: str
    body: str
    kind: str | None = None


@dataclass(frozen=True)
class DocumentRequest:
    """`show`, `remove` and `refresh`: one document by id."""

    subcommand: str
    document_id: str


@dataclass(frozen=True)
class KindRequest:
    document_id: str
    kind: str


@dataclass(frozen=True)
class LogRequest:
    page: int = 1
    per_page: int = LOG_PER_PAGE


@dataclass(frozen=True)
class FeedRequest:
    """`subscribe` and `unsubscribe`: one feed by its address."""

    subcommand: str
    url: str


@dataclass(frozen=True)
class GapsRequest:
    since: str | None = None


@dataclass(frozen=True)
class StatsRequest:
    weeks: int = DEFAULT_STATS_WEEKS


@dataclass(frozen=True)
class BareRequest:
    """`feeds` and `poll`: nothing to say but the subcommand."""

    subcommand: str


KbRequest = (ListRequest | AddUrlRequest | AddTextRequest | DocumentRequest | KindRequest | LogRequest
             | FeedRequest | GapsRequest | StatsRequest | BareRequest)

SUBCOMMANDS = tuple(USAGE)


def list_request(page: int = 1, publisher: str | None = None, kind: str | None = None,
                 since: str | None = None, until: str | None = None) -> ListRequest:
    """A listing from separate values (slash options, command-line flags)."""
    return ListRequest(page, ListFilters(publisher, kind, since, until))


# -- the text grammar ---------------------------------------------------------------------------


def parse_request(subcommand: str, rest: str = "", body: str = "") -> KbRequest:
    """`/kb <subcommand> <rest>` with `body` the lines after the first (the text of `/kb text`).

    An unknown subcommand is the caller's to answer (it shows the help); every other mistake
    raises `UsageError` with the subcommand's usage line.
    """
    sub = subcommand.lower()
    words = rest.split()
    if sub == "add":
        if not 1 <= len(words) <= 2:
            raise UsageError("add")
        return AddUrlRequest(words[0], words[1] if len(words) > 1 else None)
    if sub == "text":
        if not rest.strip() or not body.strip():
            raise UsageError("text")
        return AddTextRequest(rest.strip(), body)
    if sub == "list":
        return parse_list(rest)
    if sub in ("show", "remove", "refresh"):
        return DocumentRequest(sub, _one(sub, words))
    if sub == "kind":
        if len(words) != 2:
            raise UsageError("kind")
        return KindRequest(words[0], words[1])
    if sub in ("subscribe", "unsubscribe"):
        return FeedRequest(sub, _one(sub, words))
    if sub == "log":
        return LogRequest(_number(sub, words, 1))
    if sub == "stats":
        return StatsRequest(_number(sub, words, DEFAULT_STATS_WEEKS))
    if sub == "gaps":
        if len(words) > 1:
            raise UsageError("gaps")
        return GapsRequest(words[0] if words else None)
    if sub in ("feeds", "poll"):
        return BareRequest(sub)
    raise KeyError(sub)


def parse_list(rest: str) -> ListRequest:
    """`[page] [publisher=…] [kind=…] [since=…] [until=…]`; quotes allow spaces in a value."""
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    page, filters = 1, {}
    for word in words:
        key, equals, value = word.partition("=")
        number = read_number(word)
        if number is not None:
            page = number
        elif equals and key.lower() in _SHORT and value:
            filters[key.lower()] = value
        else:
            raise UsageError("list", UNREADABLE.format(word=word))
    return ListRequest(page, ListFilters(**filters))


def _one(subcommand: str, words: list[str]) -> str:
    if len(words) != 1:
        raise UsageError(subcommand)
    return words[0]


def _number(subcommand: str, words: list[str], default: int) -> int:
    if not words:
        return default
    number = read_number(words[0]) if len(words) == 1 else None
    if number is None:
        raise UsageError(subcommand)
    return number


def read_number(word: str) -> int | None:
    """A count typed as ASCII digits, or None. `str.isdigit` also accepts "²" and "①", which
    `int` then refuses, and other scripts' digits that `int` reads: only 0-9 are a number here,
    and at most `MAX_NUMBER_DIGITS` of them."""
    if not (word.isascii() and word.isdigit()) or len(word) > MAX_NUMBER_DIGITS:
        return None
    return int(word)


# -- list pages in buttons ----------------------------------------------------------------------


class PageButtons:
    """A page of `/kb list` with its filters as a button's data, and back.

    The data is the adapter's `prefix` + `page[:filters]`, the filters url-encoded under
    one-letter keys, all within `limit` bytes (Telegram's 64, the tighter of the two
    platforms). Filters that do not fit are kept here under a number (`page:@N`), the newest
    `MAX_KEPT_FILTERS` of them: such a button stops working when the process restarts or after
    many other listings, and then says `BUTTON_EXPIRED` instead of showing the wrong documents.
    """

    def __init__(self, limit: int = PAYLOAD_LIMIT, keep: int = MAX_KEPT_FILTERS) -> None:
        self.limit, self.keep = limit, keep
        self._kept: dict[int, ListFilters] = {}
        self._keys = itertools.count(1)

    def encode(self, prefix: str, page: int, filters: ListFilters) -> str:
        data = f"{prefix}{page}"
        if filters:
            inline = f"{data}:{urlencode({_SHORT[k]: v for k, v in filters.items()})}"
            data = inline if len(inline.encode()) <= self.limit else f"{data}:@{self._key_of(filters)}"
        if len(data.encode()) > self.limit:
            raise ValueError(f"the prefix {prefix!r} leaves no room for a page")
        return data

    def decode(self, payload: str) -> ListRequest | None:
        """The listing a button asks for (`payload`: its data after the prefix); None when it
        cannot be read or its filters are no longer kept."""
        page_text, _, encoded = payload.partition(":")
        page = read_number(page_text)
        if page is None:
            return None
        if encoded.startswith("@"):
            key = read_number(encoded[1:])
            kept = self._kept.get(key) if key is not None else None
            return None if kept is None else ListRequest(page, kept)
        names = {short: name for name, short in _SHORT.items()}
        filters = {names[k]: v for k, v in parse_qsl(encoded) if k in names}
        return ListRequest(page, ListFilters(**filters))

    def _key_of(self, filters: ListFilters) -> int:
        key = next((k for k, v in self._kept.items() if v == filters), None)
        if key is None:
            key = next(self._keys)
            self._kept[key] = filters
            while len(self._kept) > self.keep:  # the oldest buttons stop working
                del self._kept[next(iter(self._kept))]
        return key
