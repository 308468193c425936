"""The two records everything else is built from: a dated document and its passages."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from knowledge.errors import SourceError
from knowledge.language import DEFAULT_LANGUAGE, detect_language
from knowledge.text import check_unicode, strip_invisible


class Kind(str, Enum):
    """What sort of source a document is; shown in every citation so readers can weigh it."""

    NEWS = "news"
    OFFICIAL_STATEMENT = "official-statement"
    ANALYSIS = "analysis"
    FACT_CHECK = "fact-check"
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> Kind:
        if isinstance(value, cls):  # str() of a str-Enum member is "Kind.NEWS", not "news"
            return value
        text = str(value or "other").strip().lower().replace("_", "-").replace(" ", "-")
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(k.value for k in cls)
            raise SourceError(f"unknown kind {_shown(value)} (allowed: {allowed})") from None


_LANGUAGE_SAMPLE = 2000  # characters of the text read to tell its language
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_published(value: object) -> str | None:
    """Normalise a publication date that may be partial (2024, 2024-11, 2024-11-20).

    Crisis reporting is often dated only by month; keeping the precision we were given is more
    honest than inventing a day.
    """
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    text = str(value).strip()
    if not text or text.lower() in {"null", "none", "unknown"}:
        return None
    if "T" in text:  # a full timestamp: keep the day
        text = text.split("T", 1)[0]
    match = _PARTIAL_DATE.match(text)
    if not match:
        raise SourceError(f"bad published date {_shown(value)} (use YYYY, YYYY-MM or YYYY-MM-DD)")
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        date(year, 1 if month is None else month, 1 if day is None else day)  # type: ignore[arg-type]
    except ValueError:
        raise SourceError(f"bad published date {_shown(value)}: no such date") from None
    return text


def _shown(value: object, limit: int = 60) -> str:
    """A value for an error message, cut short: a megabyte-long field must not become one."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def check_link(url: str | None) -> str | None:
    """`url` when it is an http(s) link to a named host, None when there is none.

    Every citation shows the URL as a link; a `javascript:` or `data:` one would run or show
    whatever it holds when a reader clicks the source. Checked when a document is built, so
    no reader, pasted text or fetched page can store one.

    Raises:
        SourceError: any other scheme, no host, or credentials in the URL.
    """
    if url is None:
        return None
    from knowledge.url_guard import validate_url  # lazily: httpx, for the one parser we trust

    try:
        validate_url(url)
    except SourceError as exc:
        raise SourceError(f"url {_shown(url)}: {exc}") from None
    return url


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """A source's text with the metadata a citation needs."""

    id: str
    title: str
    text: str
    url: str | None = None
    publisher: str | None = None
    kind: Kind = Kind.OTHER
    published: str | None = None
    language: str = ""  # ISO 639-1; empty: read from the text (knowledge.language)
    added_by: str = "unknown"
    added_at: str = ""
    sha256: str = field(default="")

    def __post_init__(self) -> None:
        """Whatever built it, a document has a visible title and publisher, valid Unicode
        (the store keeps UTF-8) and an http(s) URL or none."""
        for name in ("id", "title", "text", "publisher", "language", "added_by"):
            value = getattr(self, name)
            if isinstance(value, str):
                check_unicode(value, f"the {name}")
        title = " ".join(strip_invisible(self.title).split())
        if not title:
            raise SourceError("the title is empty")
        object.__setattr__(self, "title", title)
        if self.publisher is not None:
            object.__setattr__(self, "publisher", " ".join(strip_invisible(self.publisher).split()) or None)
        check_link(self.url)
        if not self.language.strip():
            # A page an admin adds by URL says nothing of its language: read it from the text,
            # so a Ukrainian article is not filed as English.
            found = detect_language(f"{self.title}\n{self.text[:_LANGUAGE_SAMPLE]}") or DEFAULT_LANGUAGE
            object.__setattr__(self, "language", found.value)
        if not self.sha256:
            object.__setattr__(self, "sha256", content_hash(self.text))


@dataclass(frozen=True)
class Passage:
    """A few consecutive sentences of one document; `text == document.text[start:end]`."""

    id: int | None
    document_id: str
    ordinal: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class DocumentInfo:
    """What a citation or a listing needs of a stored document, without its full text."""

    id: str
    title: str
    url: str | None
    publisher: str | None
    kind: Kind
    published: str | None
    language: str
    added_by: str
    added_at: str
    passage_count: int = 0


@dataclass(frozen=True)
class StoredPassage:
    """A passage read back from the store together with the document it quotes."""

    passage: Passage
    document: DocumentInfo
