"""Hypothesis strategies for the fuzz tests of the readers and feeds: inputs that look like the
real thing (front matter, JSON lines, CSV, HTML, PDF, RSS/Atom) with the odd parts people and
servers actually send, then optionally a few byte-level mutations on top.

Random bytes alone would almost never get past the first check of a reader; valid-looking input
with one odd part reaches the code behind it.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.web_server import text_pdf

# Characters that have broken text handling somewhere: zero-width and direction controls, NUL,
# BOM, line separators, markup, entities, emoji (two UTF-16 units), combining marks.
ODD = ["\u200b", "\u200f", "\u202e", "\u2066", "\x00", "\ufeff", "\r\n", "\r", "\u2028", "\u0085",
       "\t", "\x0b", "&amp;", "&#xD800;", "&#0;", "&bogus;", "<b>", "</i>", "*", "_", "#", "---",
       "[1]", "é", "e\u0301", "😀", "²", "ß", "İ", "\n\n", "...", "Dr.", " ", "…", "«", "»"]
WORDS = ["Kyiv", "the", "drone", "said", "Ukraine", "troops", "2024", "ministry", "grain", "U.S.",
         "strike", "J.", "No.", "Mr.", "port", "Odesa", "power", "cuts", "4", "million", "people."]

piece = st.one_of(st.sampled_from(ODD), st.sampled_from(WORDS), st.text(max_size=12))
text = st.lists(st.one_of(piece, st.just(" ")), max_size=40).map("".join)
"""Text with words, spaces and odd characters mixed; never lone surrogates (files are UTF-8)."""

prose = st.lists(st.sampled_from(WORDS), min_size=8, max_size=60).map(" ".join)
"""Plain sentences long enough that a page extractor keeps them as the article."""

dates = st.one_of(
    st.sampled_from(["2024", "2024-11", "2024-11-20", "2024-13", "2024-02-30", "0000", "9999-12-31",
                     "2024-11-20T10:00:00Z", "T", "yesterday", "", "null", "２０２４", "-1", "1e3"]),
    st.dates().map(str), text,
)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text, dates, st.dates())
nested = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
FIELDS = ["id", "title", "text", "url", "publisher", "kind", "published", "language"]
KINDS = ["news", "analysis", "official-statement", "fact-check", "other", "News", "OTHER", "blog", ""]
URLS = ["https://example.org/a", "http://x", "javascript:alert(1)", "ftp://h/f", "", "//host/p",
        "https://exa mple.org/<>", "data:text/html,hi", "https://例え.jp/パス"]


@st.composite
def mutated(draw: st.DrawFn, content: bytes) -> bytes:
    """`content`, or it with up to three byte-level edits: cut, insert, overwrite, repeat, drop."""
    data = bytearray(content)
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            data += draw(st.binary(min_size=1, max_size=8))
            continue
        at = draw(st.integers(0, len(data) - 1))
        span = draw(st.integers(1, 16))
        operation = draw(st.sampled_from(["truncate", "insert", "overwrite", "repeat", "delete"]))
        if operation == "truncate":
            del data[at:]
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "overwrite":
            data[at:at + span] = draw(st.binary(min_size=1, max_size=span))
        elif operation == "repeat":
            data[at:at] = data[at:at + span] * draw(st.integers(2, 50))
        else:
            del data[at:at + span]
    return bytes(data)


def maybe_mutated(strategy: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Valid-looking bytes most of the time, a mutation of them the rest."""
    return strategy.flatmap(lambda content: st.one_of(st.just(content), mutated(content)))


@st.composite
def markdown_files(draw: st.DrawFn) -> bytes:
    """Markdown with front matter: dumped YAML of odd values, or hand-written odd YAML."""
    body = draw(st.lists(st.one_of(text, prose, text.map(lambda t: "# " + t)), max_size=6))
    text_body = "\n\n".join(body)
    style = draw(st.sampled_from(["none", "yaml", "raw"]))
    if style == "none":
        content = text_body
    elif style == "yaml":
        meta = draw(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), nested, max_size=6))
        dumped = yaml.safe_dump(meta, allow_unicode=draw(st.booleans()))
        content = f"---\n{dumped}---\n{text_body}"
    else:
        lines = draw(st.lists(st.tuples(st.sampled_from(FIELDS), text), max_size=5))
        extra = draw(st.lists(st.sampled_from(
            ["a: &a [1, 2]", "b: *a", "title: *a", "- list", "{x: y}", "!!python/object:os.system", "? key",
             "title: |", "  folded", "published: 2024-11-20", "title: [a, b]", "title: {a: b}", "---",
             "...", "%YAML 1.1", "kind: !!binary aGk="]), max_size=3))
        front = "\n".join([f"{key}: {value}" for key, value in lines] + extra)
        content = f"---\n{front}\n---\n{text_body}"
    if draw(st.booleans()):
        content = content.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\n"])))
    prefix = draw(st.sampled_from(["", "\ufeff", "\n", "  "]))
    return (prefix + content).encode("utf-8")


@st.composite
def text_files(draw: st.DrawFn) -> bytes:
    """Plain text files, sometimes in another encoding or with NUL bytes late in the file."""
    content = "\n".join(draw(st.lists(st.one_of(text, prose), max_size=8)))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1251"]))
    return content.encode(encoding, errors="replace")


json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), text,
    st.lists(st.one_of(text, st.sampled_from(["\ud800", "\udfff", "\ud83d", "\udca9x"])),
             max_size=4).map("".join),  # lone surrogates: JSON can escape them, UTF-8 cannot
)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(text, inner, max_size=3), max_leaves=8)


@st.composite
def jsonl_line(draw: st.DrawFn) -> str:
    """One line: mostly an object with some of our fields, sometimes anything JSON or not JSON."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(text)  # not JSON at all
    if kind == 1:
        depth = draw(st.integers(1, 3000))
        return "[" * depth + "]" * depth if draw(st.booleans()) else '{"a":' * depth + "1" + "}" * depth
    if kind == 2:
        return json.dumps(draw(json_value), ensure_ascii=draw(st.booleans()))
    record: dict[str, Any] = draw(st.dictionaries(st.sampled_from(FIELDS) | text, json_value, max_size=4))
    record.setdefault("id", draw(st.one_of(text, st.integers(), st.just("doc"))))
    record.setdefault("text", draw(st.one_of(prose, text, json_value)))
    if draw(st.booleans()):
        record["published"] = draw(dates)
    if draw(st.booleans()):
        record["kind"] = draw(st.sampled_from(KINDS))
    if draw(st.booleans()):
        record["url"] = draw(st.sampled_from(URLS))
    try:
        return json.dumps(record, ensure_ascii=draw(st.booleans()))
    except ValueError:  # nan in allow_nan=True never fails; circular data cannot be drawn
        return json.dumps(record, ensure_ascii=True)


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(jsonl_line(), min_size=1, max_size=5))
    separator = draw(st.sampled_from(["\n", "\r\n", "\n\n", "\u2028\n"]))
    # "surrogatepass": a lone surrogate written raw (not escaped) is what a broken exporter sends.
    return separator.join(lines).encode("utf-8", errors=draw(st.sampled_from(["surrogatepass", "replace"])))


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A CSV with some of our columns and extra ones, odd quoting, and maybe a column mapping."""
    columns = draw(st.lists(st.sampled_from(FIELDS) | st.sampled_from(["body", "headline", "", " id "]),
                            min_size=1, max_size=7))
    rows = draw(st.lists(st.lists(st.one_of(text, prose, dates, st.sampled_from(URLS + KINDS)),
                                  min_size=len(columns), max_size=len(columns) + draw(st.integers(0, 1))),
                         max_size=5))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, csv.QUOTE_NONE]))
    out = io.StringIO()
    writer = csv.writer(out, quoting=quoting, escapechar="\\",
                        delimiter=draw(st.sampled_from([",", ",", ";", "\t"])),
                        lineterminator=draw(st.sampled_from(["\r\n", "\n", "\r"])))
    for row in [columns, *rows]:
        try:
            writer.writerow(row)
        except csv.Error:
            out.write(",".join(row) + "\n")  # what a hand-written file would hold
    content = out.getvalue()
    if draw(st.booleans()):  # a stray quote or a quote left open
        at = draw(st.integers(0, len(content)))
        content = content[:at] + draw(st.sampled_from(['"', '""', '"\n', "\\"])) + content[at:]
    mapping = draw(st.one_of(st.none(), st.sampled_from(
        ["text=body", "title=headline,text=body", "id=headline", "text=", "bogus=x", "text=body,text=x", ","]),
        text))
    prefix = draw(st.sampled_from(["", "\ufeff"]))
    return (prefix + content).encode("utf-8"), mapping


CHARSETS = ["utf-8", "UTF-8", "latin-1", "iso-8859-1", "windows-1251", "cp1252", "utf-16", "utf-7",
            "shift_jis", "koi8-r", "undefined", "x-user-defined", "bogus", "", "utf-8; foo", "ascii"]
ENTITIES = ["&#xD800;", "&#0;", "&#x110000;", "&#99999999999;", "&nbsp;", "&bogus;", "&amp", "&#x1F600;",
            "&lt;script&gt;", "<![CDATA[x]]>", "<!-- c -->", "<script>alert(1)</script>", "<br/>", "&#128;"]


@st.composite
def html_pages(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """(bytes, declared charset): a page with a meta charset, odd entities, maybe mis-encoded."""
    odd = st.one_of(text, st.sampled_from(ENTITIES))
    title = "".join(draw(st.lists(odd, max_size=4)))
    paragraphs = draw(st.lists(st.tuples(prose, st.lists(odd, max_size=3)), max_size=6))
    body = "".join(f"<p>{words} {''.join(extra)}</p>" for words, extra in paragraphs)
    meta_charset = draw(st.sampled_from(CHARSETS))
    published = draw(dates)
    page = (f'<!DOCTYPE html><html><head><meta charset="{meta_charset}"><title>{title}</title>'
            f'<meta property="og:site_name" content="{draw(odd)}">'
            f'<meta property="article:published_time" content="{published}"></head>'
            f"<body><nav>Home News</nav><article><h1>{title}</h1>{body}</article></body></html>")
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "cp1251", "utf-16", "shift_jis", "utf-8-sig"]))
    content = page.encode(encoding, errors="replace")
    declared = draw(st.one_of(st.none(), st.sampled_from(CHARSETS)))
    return content, declared


@st.composite
def pdf_files(draw: st.DrawFn) -> bytes:
    """A small PDF with a text layer (odd title and lines), maybe rewritten by pypdf, maybe mutated."""
    lines = draw(st.lists(st.one_of(prose, text.map(lambda t: t.encode("latin-1", "replace").decode("latin-1"))),
                          max_size=4))
    title = draw(st.one_of(st.none(), st.sampled_from(["Report", "a (b", "x) /Bad", "\\", "é"]),
                           text.map(lambda t: t.encode("latin-1", "replace").decode("latin-1"))))
    content = text_pdf(lines, title)
    if draw(st.booleans()):
        content = _rewritten(content)
    if draw(st.booleans()):  # a startxref or xref offset of the wrong size
        number = draw(st.sampled_from(["0", "-1", "99999999", "1" * 30, "9" * 400, "abc"]))
        at = content.rfind(b"startxref\n")
        if at >= 0:
            end = content.find(b"\n", at + 10)
            content = content[: at + 10] + number.encode() + content[end:]
    return draw(st.one_of(st.just(content), mutated(content)))


def _rewritten(content: bytes) -> bytes:
    """The same PDF written out again by pypdf: compressed streams, its own xref layout."""
    from pypdf import PdfReader, PdfWriter

    try:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(content)))
        for page in writer.pages:
            page.compress_content_streams()
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    except Exception:  # a title that broke the file: keep the broken file, it is fuzz input too
        return content


FEED_DATES = ["Mon, 18 Nov 2024 10:00:00 GMT", "2024-11-18T10:00:00Z", "2024-13-45T99:99:99Z",
              "Tue, 31 Feb 2024 25:61:00 +9999", "", "yesterday", "0000-00-00", "9999-12-31T23:59:59Z",
              "1 Jan 1900 00:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "-1", "2024-11-18T10:00:00+25:00"]
FEED_ODD = ENTITIES + ["&amp;amp;", "&#x202E;", "&eacute;", "&undefinedentity;", "]]>", "<b>bold</b>",
                       "&lt;b&gt;", "\u202e", "&#65;"]
FEED_ENCODINGS = ["utf-8", "UTF-8", "iso-8859-1", "windows-1251", "utf-16", "bogus", "us-ascii", "utf-7"]


@st.composite
def feeds(draw: st.DrawFn) -> bytes:
    """An RSS 2.0, RSS 1.0 or Atom document with odd entities, dates, links and encodings."""
    odd = st.lists(st.one_of(text, st.sampled_from(FEED_ODD)), max_size=4).map("".join)
    links = st.one_of(st.sampled_from(URLS + ["https://example.org/a", "/relative", "https://example.org/a"]),
                      odd)
    entries = draw(st.lists(st.tuples(odd, links, st.sampled_from(FEED_DATES) | odd, odd), max_size=5))
    title = draw(odd)
    flavour = draw(st.sampled_from(["rss2", "rss1", "atom"]))
    if flavour == "atom":
        items = "".join(f"<entry><title>{t}</title><link href=\"{ln}\"/><updated>{d}</updated>"
                        f"<summary type=\"html\">{s}</summary></entry>" for t, ln, d, s in entries)
        body = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>{items}</feed>'
    elif flavour == "rss1":
        items = "".join(f'<item rdf:about="{ln}"><title>{t}</title><link>{ln}</link><dc:date>{d}</dc:date>'
                        f"<description>{s}</description></item>" for t, ln, d, s in entries)
        body = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"'
                ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<channel><title>{title}</title></channel>{items}</rdf:RDF>")
    else:
        items = "".join(f"<item><title>{t}</title><link>{ln}</link><pubDate>{d}</pubDate>"
                        f"<description><![CDATA[{s}]]></description></item>" for t, ln, d, s in entries)
        body = f'<rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'
    declared = draw(st.sampled_from(FEED_ENCODINGS))
    doctype = draw(st.sampled_from(["", '<!DOCTYPE rss [<!ENTITY x "xx">]>', '<!DOCTYPE html>']))
    document = f'<?xml version="1.0" encoding="{declared}"?>{doctype}{body}'
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16", "cp1251"]))
    return draw(maybe_mutated(st.just(document.encode(encoding, errors="replace"))))
