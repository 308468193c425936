"""The two records everything else is built from: a dated document and its passages."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from knowledge.errors import SourceError


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
            raise SourceError(f"unknown kind {value!r} (allowed: {allowed})") from None


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
        raise SourceError(f"bad published date {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)")
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        date(year, 1 if month is None else month, 1 if day is None else day)  # type: ignore[arg-type]
    except ValueError:
        raise SourceError(f"bad published date {value!r}: no such date") from None
    return text


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
    language: str = "en"
    added_by: str = "unknown"
    added_at: str = ""
    sha256: str = field(default="")

    def __post_init__(self) -> None:
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
