"""Turn a fetched page (HTML or PDF) into a `Document` a citation can stand on.

`extract_html` and `extract_pdf` work on bytes alone, so the file readers (`.html`, `.pdf`)
share this code path with pages fetched from a URL.

Web pages carry navigation, ads and comments around the article; trafilatura keeps the main
text and reads the title, date and site name from the page's metadata. PDFs are read with
pypdf; a scanned PDF has no text layer, and saying so is better than storing an empty source.
Like the file readers, everything is validated here so a caller can refuse before writing.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import re
from dataclasses import dataclass
from datetime import date

import httpx

from knowledge.documents import Document, Kind, parse_published
from knowledge.errors import SourceError
from knowledge.fetching import HTML_TYPES, PDF_TYPE, FetchedPage
from knowledge.text import (
    MAX_PUBLISHER_CHARS, MAX_TITLE_CHARS, normalise_text, replace_surrogates, shorten,
    title_from_text,
)

log = logging.getLogger(__name__)

_ID_SLUG_CHARS = 60


@dataclass(frozen=True)
class ExtractedText:
    """What a page or PDF says about itself: enough to build a document around its text."""

    title: str
    text: str
    published: str | None = None
    publisher: str | None = None


def document_from_page(page: FetchedPage, added_by: str, kind: Kind | str | None = None) -> Document:
    """Build a document from a fetched HTML page or PDF.

    Args:
        page: what `knowledge.fetching.fetch` returned.
        added_by: who asked for the source, stored with it.
        kind: news, official-statement, analysis or other (default other): a page cannot
            tell us reliably which it is, so the person adding it says.

    Raises:
        SourceError: no text could be extracted, or the content type is not HTML or PDF.
    """
    if page.content_type in HTML_TYPES:
        extracted = extract_html(page.content, page.charset, page.url)
    elif page.content_type == PDF_TYPE:
        extracted = extract_pdf(page.content, page.url)
    else:
        raise SourceError(f"unsupported content type {page.content_type}: send an HTML page or a PDF")
    return Document(
        id=document_id(page.url),
        title=" ".join(extracted.title.split()),
        text=extracted.text,
        url=page.url,
        publisher=extracted.publisher or _host(page.url),
        kind=Kind.parse(kind),
        published=extracted.published,
        added_by=added_by,
    )


def document_id(url: str) -> str:
    """A stable, readable id for a URL: a slug of host and path plus a short hash of the URL.

    The slug lets an admin recognise the source in `sources`; the hash keeps two URLs that
    slug alike (query strings, case) apart. The same URL always gives the same id, so adding
    it again replaces the earlier version instead of duplicating it.
    """
    without_scheme = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=re.IGNORECASE)
    without_scheme = re.sub(r"^www\.", "", without_scheme, flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", without_scheme.lower()).strip("-")
    slug = slug[:_ID_SLUG_CHARS].rstrip("-") or "page"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}"


def extract_html(content: bytes, charset: str | None = None, url: str | None = None) -> ExtractedText:
    """The main text, title, date and site name of an HTML page, fetched or read from a file.

    Args:
        content: the page's bytes.
        charset: the charset the server declared, if any; otherwise trafilatura reads the
            page's own declaration or guesses.
        url: where the page came from, for relative links and dates in the URL; None for a
            local file.

    Raises:
        SourceError: no article text could be found.
    """
    import trafilatura  # lazily: lxml and the date parser are only needed when adding a page
    from trafilatura.settings import Document as ExtractedPage

    html = _decode_declared(content, charset) if charset else content
    extracted = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        # Only dates the page marks up as its own (meta tags, JSON-LD, <time>, the URL):
        # the extensive search also guesses from any date in the text, and a wrong date
        # on a crisis source is worse than "date unknown".
        date_extraction_params={
            "original_date": True,
            "extensive_search": False,
            "max_date": date.today().isoformat(),
        },
    )
    where = f" at {url}" if url else ""
    if not isinstance(extracted, ExtractedPage):
        raise SourceError(f"no article text found{where}")
    text = normalise_text(extracted.text or "")
    if not text:
        raise SourceError(f"no article text found{where}")
    title = _clean(extracted.title, MAX_TITLE_CHARS) or title_from_text(text)
    publisher = _clean(extracted.sitename, MAX_PUBLISHER_CHARS)
    return ExtractedText(title, text, _published(extracted.date, url or "page"), publisher)


# Python codecs that a server may name but no browser decodes a page with: Python's own
# "undefined" (which raises on any input), the IDNA host-name codecs, escape codecs, UTF-7
# (banned from the web for smuggling markup) and Windows' code-page aliases.
_NOT_PAGE_CHARSETS = frozenset({
    "undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "utf-7", "mbcs", "oem",
})


def _decode_declared(content: bytes, charset: str) -> str | bytes:
    """The page decoded with the charset its server declared, or the bytes if that is no
    charset a browser knows (`charset=undefined` is common): trafilatura then guesses."""
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return content
    if name in _NOT_PAGE_CHARSETS:
        return content
    try:
        return content.decode(name, errors="replace")
    except (LookupError, UnicodeError):  # base64 and the like: no text encodings at all
        return content


def extract_pdf(content: bytes, source: str = "PDF") -> ExtractedText:
    """The text layer of a PDF and its metadata title (or its first line).

    Args:
        content: the PDF's bytes.
        source: its URL or path, for the log.

    Raises:
        SourceError: the PDF is encrypted, unreadable, or has no text (a scan).
    """
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(content))
        texts = [page_.extract_text() or "" for page_ in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except FileNotDecryptedError:
        raise SourceError("the PDF is encrypted; send one that can be opened without a password") from None
    except Exception as exc:  # noqa: BLE001 -- pypdf raises many kinds on a damaged file
        # (a 30-digit startxref, a reference loop: PyPdfError, ValueError, RecursionError,
        # OverflowError...); a PDF that cannot be read is the sender's to fix, never our crash.
        log.info("unreadable PDF at %s", source, exc_info=True)
        raise SourceError(f"the PDF cannot be read ({type(exc).__name__})") from None
    text = normalise_text("\n\n".join(t.strip() for t in texts if t.strip()))
    if not text:
        raise SourceError("no text found in the PDF (is it a scan?)")
    title = _clean(str(meta_title) if meta_title else None, MAX_TITLE_CHARS)
    title = title or title_from_text(text.split("\n", 1)[0])
    return ExtractedText(title, text)


def _published(value: str | None, url: str) -> str | None:
    """The page's date in our partial-date form, or None when it is missing or unusable."""
    if not value:
        return None
    try:
        return parse_published(value)
    except SourceError:
        log.warning("%s: ignoring unusable date %r", url, value)
        return None


def _clean(value: str | None, limit: int) -> str | None:
    """A title or site name as one line without invisible characters, cut to `limit`."""
    if value is None:
        return None
    return shorten(normalise_text(replace_surrogates(value)), limit) or None


def _host(url: str) -> str | None:
    """The site's host name, as the publisher of last resort ("www." dropped)."""
    host = httpx.URL(url).host
    return host[4:] if host.startswith("www.") else host or None
