"""Documents built from what an admin gives (a URL, pasted text), before anything is written.

Every check that can refuse a source happens here, so a refused source leaves nothing behind;
`bot.core.admin` then hands the documents to the one writer.
"""

from __future__ import annotations

import hashlib
import re

from bot.core.actors import Actor
from bot.core.messages import BAD_DATE
from knowledge.documents import Document, Kind, parse_published
from knowledge.errors import SourceError
from knowledge.text import normalise_text

MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 300
_ID_SLUG_CHARS = 60


def text_document_id(title: str) -> str:
    """A readable id for pasted text: a slug of the title and a short hash of it.

    The same title gives the same id, so pasting a corrected text under the same title
    replaces the earlier version instead of adding a near-duplicate.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:_ID_SLUG_CHARS].rstrip("-") or "text"
    return f"{slug}-{hashlib.sha256(title.encode('utf-8')).hexdigest()[:10]}"


def parse_kind(value: Kind | str | None, required: bool = False) -> Kind:
    if isinstance(value, Kind):
        return value
    if required and not str(value or "").strip():
        allowed = ", ".join(k.value for k in Kind)
        raise SourceError(f"say which kind (allowed: {allowed})")
    return Kind.parse(value)


def date_filter(name: str, value: str | None) -> str | None:
    try:
        return parse_published(value)
    except SourceError:
        raise SourceError(BAD_DATE.format(name=name, value=value)) from None


def fetch_document(allow_private: bool, url: str, added_by: str, kind: Kind) -> Document:
    """Fetch a page or PDF through the URL guard and turn it into a document (not yet stored)."""
    from knowledge.extraction import document_from_page  # lazily: trafilatura, pypdf
    from knowledge.fetching import FetchPolicy, fetch

    page = fetch(url, FetchPolicy(allow_private=allow_private))
    return document_from_page(page, added_by, kind)


def text_document(
    actor: Actor, title: str, text: str, kind: Kind | str | None, url: str | None,
    published: str | None, publisher: str | None,
) -> Document:
    """Pasted text as a document, checked against the limits every pasted text has."""
    if not title:
        raise SourceError("give the text a title")
    if len(title) > MAX_TITLE_CHARS:
        raise SourceError(f"the title is too long ({len(title):,} characters; the limit is {MAX_TITLE_CHARS})")
    body = normalise_text(text)
    if not body:
        raise SourceError("the text is empty")
    if len(body) > MAX_TEXT_CHARS:
        raise SourceError(
            f"the text is too long ({len(body):,} characters; the limit is {MAX_TEXT_CHARS:,})"
        )
    checked_url = None
    if url:
        from knowledge.extraction import document_id
        from knowledge.url_guard import validate_url

        checked_url = validate_url(url).url
    return Document(
        id=document_id(checked_url) if checked_url else text_document_id(title),
        title=title,
        text=body,
        url=checked_url,
        publisher=" ".join(publisher.split()) if publisher and publisher.strip() else None,
        kind=parse_kind(kind),
        published=parse_published(published),
        added_by=actor.key,
    )
