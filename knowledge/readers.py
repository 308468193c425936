"""Readers turn files into documents, and refuse anything they cannot read faithfully.

Every reader validates everything before returning, so a caller can read a whole batch first
and write nothing when one line of it is bad.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.documents import Document, Kind, parse_published
from knowledge.errors import SourceError

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".jsonl": "jsonl"}


@dataclass
class ReadResult:
    """Documents read from some paths, and the files inside folders that were not ours to read."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def normalise_text(text: str) -> str:
    """One newline convention and no outer blank space, so equal texts hash equally."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _read_text_file(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a folder") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if b"\x00" in raw[:65536]:
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


def _document(
    meta: Mapping[str, object], text: str, default_id: str, added_by: str, where: str
) -> Document:
    title = _optional_str(meta.get("title"))
    if not title:
        raise SourceError(f"{where}: missing title")
    try:
        return Document(
            id=_optional_str(meta.get("id")) or default_id,
            title=" ".join(title.split()),
            text=_require_text(text, where),
            url=_optional_str(meta.get("url")),
            publisher=_optional_str(meta.get("publisher")),
            kind=Kind.parse(meta.get("kind")),
            published=parse_published(meta.get("published")),
            language=_optional_str(meta.get("language")) or "en",
            added_by=added_by,
        )
    except SourceError as exc:
        if str(exc).startswith(where):
            raise
        raise SourceError(f"{where}: {exc}") from None


def read_markdown(path: Path, added_by: str) -> Document:
    """Markdown with an optional YAML front matter block (title, published, publisher, ...)."""
    content = normalise_text(_read_text_file(path))
    meta: dict[str, object] = {}
    body = content
    if content.startswith("---\n"):
        end = content.find("\n---", 3)
        if end < 0:
            raise SourceError(f"{path}: front matter starts with '---' but never ends")
        try:
            loaded = yaml.safe_load(content[4:end]) or {}
        except yaml.YAMLError as exc:
            raise SourceError(f"{path}: front matter is not valid YAML ({exc})") from None
        if not isinstance(loaded, dict):
            raise SourceError(f"{path}: front matter must be a mapping of fields")
        meta = {str(k): v for k, v in loaded.items()}
        body = content[end + 4 :].lstrip("-")
    if not _optional_str(meta.get("title")):
        meta["title"] = _first_line(body, path).lstrip("#").strip()
    return _document(meta, body, path.stem, added_by, str(path))


def _first_line(text: str, path: Path) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    raise SourceError(f"{path}: empty document")


def read_plain_text(path: Path, added_by: str) -> Document:
    """Plain text: the first non-empty line is the title, the rest the text."""
    content = normalise_text(_read_text_file(path))
    title = _first_line(content, path)
    rest = content.split("\n", 1)[1] if "\n" in content else ""
    body = rest if rest.strip() else content
    return _document({"title": title}, body, path.stem, added_by, str(path))


def title_from_text(text: str, limit: int = 80) -> str:
    """A stand-in title for a record that has none: the text's first words, marked as cut."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0] + " …"


def read_jsonl(path: Path, added_by: str) -> list[Document]:
    """One JSON object a line (id, title, text, url, publisher, kind, published, language)."""
    content = _read_text_file(path)
    documents: list[Document] = []
    first_line_of: dict[str, int] = {}
    # Only "\n" ends a record: JSON strings may hold U+2028 and friends that splitlines() splits on.
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{where}: malformed JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(record, dict):
            raise SourceError(f"{where}: expected a JSON object, got {type(record).__name__}")
        for required in ("id", "text"):
            if not _optional_str(record.get(required)):
                raise SourceError(f"{where}: missing or empty field {required!r}")
        if not isinstance(record["text"], str):
            raise SourceError(f"{where}: field 'text' must be a string")
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


def read_file(path: Path, added_by: str) -> list[Document]:
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise SourceError(f"{path}: unsupported file type (supported: {allowed})")
    if kind == "markdown":
        return [read_markdown(path, added_by)]
    if kind == "text":
        return [read_plain_text(path, added_by)]
    return read_jsonl(path, added_by)


def read_paths(paths: Iterable[Path], added_by: str) -> ReadResult:
    """Read files and folders (recursively); any error stops the whole batch before a write."""
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
                raise SourceError(f"{path}: no .md, .txt or .jsonl files in this folder")
            for file in readable:
                result.documents.extend(read_file(file, added_by))
        elif path.exists() or path.is_symlink():
            result.documents.extend(read_file(path, added_by))
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
