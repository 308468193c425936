"""Plain-text and Markdown renderings of an `Answer`, for the terminal and for files.

Each quote is followed by its marker, "[1]", or "[1, 2024-10-20]" when the quoted sources differ
in date (`Answer.marker`). Dates are validated at ingest (YYYY[-MM[-DD]]), so a marker holds
nothing Markdown reacts to and is not escaped.
"""

from __future__ import annotations

from datetime import date

from bot.answer import NO_ANSWER, Answer, Source, describe_date
from knowledge.documents import DocumentInfo


def source_line(source: Source, today: date | None = None) -> str:
    """'[1] Title — Publisher, analysis, as of 2024-11 (2 years ago)'."""
    doc = source.document
    parts = [doc.publisher or "publisher unknown", doc.kind.value, source.as_of(today)]
    return f"[{source.number}] {doc.title} — " + ", ".join(parts)


def render_plain(answer: Answer, today: date | None = None) -> str:
    if not answer.found:
        return NO_ANSWER
    body = " ".join(f"{quote.text} {answer.marker(quote)}" for quote in answer.quotes)
    lines = [body, "", "Sources:"]
    for source in answer.sources:
        lines.append(source_line(source, today))
        if source.document.url:
            lines.append(f"    {source.document.url}")
    return "\n".join(lines)


def _escape_markdown(text: str) -> str:
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return text


def render_markdown(answer: Answer, today: date | None = None) -> str:
    if not answer.found:
        return NO_ANSWER
    body = " ".join(f"{_escape_markdown(q.text)} {answer.marker(q)}" for q in answer.quotes)
    lines = [body, "", "**Sources**", ""]
    for source in answer.sources:
        doc = source.document
        title = _escape_markdown(doc.title)
        title = f"[{title}]({doc.url})" if doc.url else f"*{title}*"
        meta = ", ".join([_escape_markdown(doc.publisher or "publisher unknown"), doc.kind.value,
                          source.as_of(today)])
        lines.append(f"{source.number}. {title} — {meta}")
    return "\n".join(lines)


def document_lines(document: DocumentInfo, today: date | None = None) -> list[str]:
    """Two lines a document for the terminal's source listings (`sources`, `kb list`)."""
    meta = (f"    {document.publisher or 'publisher unknown'}, {document.kind.value}, "
            f"{describe_date(document.published, today)}, {document.passage_count} passages")
    return [f"{document.id}  {document.title}", meta + (f", {document.url}" if document.url else "")]


def document_json(document: DocumentInfo) -> dict[str, object]:
    """A document's listing fields as JSON-ready values (the kind as its name)."""
    return {**document.__dict__, "kind": document.kind.value}
