"""Readers turn files into documents, and refuse anything they cannot read faithfully.

Every reader validates everything before returning, so a caller can read a whole batch first
and write nothing when one line of it is bad.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.documents import Document, Kind, parse_published
from knowledge.errors import SourceError
from knowledge.extraction import extract_html, extract_pdf
from knowledge.footers import strip_link_footer
from knowledge.front_matter import read_front_matter
from knowledge.text import (
    MAX_ID_CHARS, MAX_PUBLISHER_CHARS, MAX_TITLE_CHARS, check_unicode, clean_line, normalise_text,
    shorten, title_from_text,
)

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".jsonl": "jsonl",
    ".csv": "csv", ".html": "html", ".htm": "html", ".pdf": "pdf",
}
MAX_FILE_BYTES = 10 * 1024 * 1024
"""Larger files are refused before they are read: no source we cite is that big, and a batch
is held in memory whole until it is validated."""

CSV_FIELDS = ("id", "title", "text", "url", "publisher", "kind", "published", "language")
"""Document fields a CSV column can fill; by default each comes from the column of its name."""


@dataclass
class ReadResult:
    """Documents read from some paths, and the files inside folders that were not ours to read."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def _read_bytes(path: Path) -> bytes:
    """A file's bytes, refusing one over `MAX_FILE_BYTES` before reading it."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES and not path.is_dir():
            raise SourceError(
                f"{path}: too large ({size / 1024 / 1024:.1f} MB; the limit is "
                f"{MAX_FILE_BYTES // 1024 // 1024} MB): split it into smaller files"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a folder") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_text_file(path: Path) -> str:
    """A UTF-8 text file within the size limit; binary data and other encodings refused."""
    raw = _read_bytes(path)
    if b"\x00" in raw:  # anywhere: a NUL after the first block is no more text than one in it
        raise SourceError(f"{path}: binary data, not a text document")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: not UTF-8 text (byte {exc.start}); binary data or another encoding"
        ) from None


def _require_text(text: str, where: str) -> str:
    text = normalise_text(text)
    if not text:
        raise SourceError(f"{where}: empty document")
    return text


def _optional_str(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


MAX_LANGUAGE_CHARS = 35  # the longest BCP 47 tags in use


def _document(
    meta: Mapping[str, object], text: str, default_id: str, added_by: str, where: str
) -> Document:
    """A document from a reader's fields, each cleaned and held to the limits every source has
    (pasted text too): an over-long title, publisher or id given as such is refused, not cut,
    so the admin sees which record to fix; a title taken from the first line is cut."""
    try:
        title = clean_line(meta.get("title"), "the title", MAX_TITLE_CHARS)
        if not title:
            raise SourceError(f"{where}: missing title")
        document_id = clean_line(meta.get("id"), "the id", MAX_ID_CHARS) or default_id
        if not document_id:  # an id of only invisible characters
            raise SourceError(f"{where}: empty id")
        return Document(
            id=document_id,
            title=title,
            text=_require_text(strip_link_footer(text), where),
            url=_optional_str(meta.get("url")),
            publisher=clean_line(meta.get("publisher"), "the publisher", MAX_PUBLISHER_CHARS),
            kind=Kind.parse(meta.get("kind")),
            published=parse_published(meta.get("published")),
            language=clean_line(meta.get("language"), "the language", MAX_LANGUAGE_CHARS) or "",
            added_by=added_by,
        )
    except SourceError as exc:
        if str(exc).startswith(where):
            raise
        raise SourceError(f"{where}: {exc}") from None


def read_markdown(path: Path, added_by: str) -> Document:
    """Markdown with an optional YAML front matter block (title, published, publisher, ...)."""
    content = normalise_text(read_text_file(path))
    meta: dict[str, object] = {}
    body = content
    if content.startswith("---\n"):
        end = content.find("\n---", 3)
        if end < 0:
            raise SourceError(f"{path}: front matter starts with '---' but never ends")
        meta = read_front_matter(content[4:end], str(path))
        body = content[end + 4 :].lstrip("-")
    if not _optional_str(meta.get("title")):
        meta["title"] = shorten(_first_line(body, path).lstrip("#"), MAX_TITLE_CHARS)
    return _document(meta, body, path.stem, added_by, str(path))


def _first_line(text: str, path: Path) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    raise SourceError(f"{path}: empty document")


def read_plain_text(path: Path, added_by: str) -> Document:
    """Plain text: the first non-empty line is the title, the rest the text."""
    content = normalise_text(read_text_file(path))
    title = shorten(_first_line(content, path), MAX_TITLE_CHARS)
    rest = content.split("\n", 1)[1] if "\n" in content else ""
    body = rest if rest.strip() else content
    return _document({"title": title}, body, path.stem, added_by, str(path))


def read_jsonl(path: Path, added_by: str) -> list[Document]:
    """One JSON object a line (id, title, text, url, publisher, kind, published, language)."""
    content = read_text_file(path)
    documents: list[Document] = []
    first_line_of: dict[str, int] = {}
    # Only "\n" ends a record: JSON strings may hold U+2028 and friends that splitlines() splits on.
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        record = _json_record(line, where)
        for required in ("id", "text"):
            if not _optional_str(record.get(required)):
                raise SourceError(f"{where}: missing or empty field {required!r}")
        if not isinstance(record["text"], str):
            raise SourceError(f"{where}: field 'text' must be a string")
        for name, value in record.items():
            if isinstance(value, str):
                try:
                    check_unicode(value, f"field {name!r}")
                except SourceError as exc:
                    raise SourceError(f"{where}: {exc}") from None
        if not _optional_str(record.get("title")):
            record = {**record, "title": title_from_text(record["text"])}
            log.warning("%s: no title; using the start of the text: %s", where, record["title"])
        document = _document(record, record["text"], "", added_by, where)
        if document.id in first_line_of:
            raise SourceError(
                f"{where}: duplicate id {document.id!r} (first on line {first_line_of[document.id]})"
            )
        first_line_of[document.id] = number
        documents.append(document)
    if not documents:
        raise SourceError(f"{path}: empty document (no JSON lines)")
    return documents


def _json_record(line: str, where: str) -> dict[str, Any]:
    """One JSONL line as an object; malformed, absurdly nested or non-object lines refused."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{where}: malformed JSON ({exc.msg}, column {exc.colno})") from None
    except RecursionError:
        raise SourceError(f"{where}: malformed JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise SourceError(f"{where}: malformed JSON ({exc})") from None
    if not isinstance(record, dict):
        raise SourceError(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def read_html(path: Path, added_by: str) -> Document:
    """A saved web page: its main text, title, date and site name, as for a fetched URL."""
    content = _read_bytes(path)
    try:
        extracted = extract_html(content)
    except SourceError as exc:
        raise SourceError(f"{path}: {exc}") from None
    meta = {"title": extracted.title, "published": extracted.published, "publisher": extracted.publisher}
    return _document(meta, extracted.text, path.stem, added_by, str(path))


def read_pdf(path: Path, added_by: str) -> Document:
    """A PDF's text layer; a scan without one is refused rather than stored empty."""
    content = _read_bytes(path)
    try:
        extracted = extract_pdf(content, str(path))
    except SourceError as exc:
        raise SourceError(f"{path}: {exc}") from None
    return _document({"title": extracted.title}, extracted.text, path.stem, added_by, str(path))


def parse_column_mapping(spec: str) -> dict[str, str]:
    """Parse "text=body,title=headline" into {"text": "body", "title": "headline"}.

    Only the fields named are mapped; the others keep their default column (their own name).

    Raises:
        SourceError: an item without "=", an unknown field, an empty column or a field twice.
    """
    mapping: dict[str, str] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        field_name, equals, column = (part.strip() for part in item.partition("="))
        if not equals:
            raise SourceError(f"column mapping {item.strip()!r}: write FIELD=COLUMN, e.g. text=body")
        if field_name not in CSV_FIELDS:
            raise SourceError(
                f"column mapping {item.strip()!r}: unknown field {field_name!r} "
                f"(fields: {', '.join(CSV_FIELDS)})"
            )
        if not column:
            raise SourceError(f"column mapping {item.strip()!r}: no column name after '='")
        if field_name in mapping:
            raise SourceError(f"column mapping: field {field_name!r} is mapped twice")
        mapping[field_name] = column
    if not mapping:
        raise SourceError("empty column mapping: write FIELD=COLUMN pairs, e.g. text=body,title=headline")
    return mapping


def _csv_columns(
    header: list[str], mapping: Mapping[str, str], where: str
) -> dict[str, int]:
    """Field -> column index, refusing unknown fields and columns the file does not have."""
    unknown = sorted(set(mapping) - set(CSV_FIELDS))
    if unknown:
        raise SourceError(f"{where}: unknown field {unknown[0]!r} in the column mapping "
                          f"(fields: {', '.join(CSV_FIELDS)})")
    names = [name.strip() for name in header]
    available = ", ".join(repr(n) for n in names)
    positions: dict[str, int] = {}
    for field_name in CSV_FIELDS:
        column = mapping.get(field_name, field_name)
        if column not in names:
            if field_name in mapping:
                raise SourceError(
                    f"{where}: unknown column {column!r} (mapped to {field_name}); the columns are {available}"
                )
            if field_name in ("id", "text"):
                raise SourceError(
                    f"{where}: missing column {column!r}; the columns are {available} "
                    f"(map another one, e.g. {field_name}=COLUMN)"
                )
            continue
        if names.count(column) > 1:
            raise SourceError(f"{where}: column {column!r} appears {names.count(column)} times in the header")
        positions[field_name] = names.index(column)
    return positions


def read_csv(path: Path, mapping: Mapping[str, str] | None, added_by: str) -> list[Document]:
    """A CSV file with a header row, one document a record (quoted fields may span lines).

    Args:
        path: the file, UTF-8 with or without a byte order mark.
        mapping: field -> column name, for the fields whose column is not named after them
            (see `parse_column_mapping`); `id` and `text` must be found, the others may be absent.
        added_by: who is adding the documents.

    Raises:
        SourceError: naming `file:line` of the first bad record, or the missing column.
    """
    content = read_text_file(path)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE_BYTES))
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    documents: list[Document] = []
    first_line_of: dict[str, int] = {}
    columns: dict[str, int] | None = None
    header_length = end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            where = f"{path}:{start}"
            if columns is None:
                columns, header_length = _csv_columns(row, mapping or {}, where), len(row)
                continue
            if len(row) != header_length:
                raise SourceError(f"{where}: {len(row)} fields, but the header has {header_length}")
            document = _csv_document(row, columns, mapping or {}, added_by, where)
            if document.id in first_line_of:
                raise SourceError(
                    f"{where}: duplicate id {document.id!r} (first on line {first_line_of[document.id]})"
                )
            first_line_of[document.id] = start
            documents.append(document)
    except csv.Error as exc:
        raise SourceError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    if columns is None:
        raise SourceError(f"{path}: empty document (no header row)")
    if not documents:
        raise SourceError(f"{path}: empty document (a header but no records)")
    return documents


def _csv_document(
    row: list[str], columns: Mapping[str, int], mapping: Mapping[str, str], added_by: str, where: str
) -> Document:
    record: dict[str, object] = {name: row[index] for name, index in columns.items()}
    for required in ("id", "text"):
        if not _optional_str(record.get(required)):
            column = mapping.get(required, required)
            raise SourceError(f"{where}: empty {required} (column {column!r})")
    text = str(record["text"])
    if not _optional_str(record.get("title")):
        record["title"] = title_from_text(text)
        log.warning("%s: no title; using the start of the text: %s", where, record["title"])
    return _document(record, text, "", added_by, where)


def read_file(
    path: Path, added_by: str, csv_columns: Mapping[str, str] | None = None
) -> list[Document]:
    """The documents of one file, by its suffix; `csv_columns` maps fields to CSV columns."""
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise SourceError(f"{path}: unsupported file type (supported: {allowed})")
    if kind == "markdown":
        return [read_markdown(path, added_by)]
    if kind == "text":
        return [read_plain_text(path, added_by)]
    if kind == "html":
        return [read_html(path, added_by)]
    if kind == "pdf":
        return [read_pdf(path, added_by)]
    if kind == "csv":
        return read_csv(path, csv_columns, added_by)
    return read_jsonl(path, added_by)


def read_paths(
    paths: Iterable[Path], added_by: str, csv_columns: Mapping[str, str] | None = None
) -> ReadResult:
    """Read files and folders (recursively); any error stops the whole batch before a write.

    Args:
        paths: files and folders.
        added_by: who is adding the documents.
        csv_columns: field -> column for every `.csv` file (see `parse_column_mapping`);
            None reads each field from the column of its own name.
    """
    result = ReadResult()
    for path in paths:
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            readable = [p for p in files if p.suffix.lower() in SUPPORTED_SUFFIXES]
            result.skipped.extend(p for p in files if p.suffix.lower() not in SUPPORTED_SUFFIXES)
            if not readable:
                raise SourceError(
                    f"{path}: no .md, .txt or .jsonl files in this folder (nor .csv, .html, .htm or .pdf)"
                )
            for file in readable:
                result.documents.extend(read_file(file, added_by, csv_columns))
        elif path.exists() or path.is_symlink():
            result.documents.extend(read_file(path, added_by, csv_columns))
        else:
            raise SourceError(f"{path}: no such file or folder")
    _check_unique_ids(result.documents)
    return result


def _check_unique_ids(documents: list[Document]) -> None:
    seen: set[str] = set()
    for document in documents:
        if document.id in seen:
            raise SourceError(f"document id {document.id!r} appears twice in this batch")
        seen.add(document.id)
