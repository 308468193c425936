"""Small builders of core records for tests that do not need a knowledge base."""

from __future__ import annotations

from bot.core.answer import Answer, Quote, Source
from knowledge.documents import DocumentInfo, Kind


def document_info(**overrides: object) -> DocumentInfo:
    fields: dict[str, object] = dict(
        id="d1", title="Strikes on Kharkiv", url="https://example.org/k", publisher="Example",
        kind=Kind.NEWS, published="2026-11-20", language="en", added_by="t", added_at="",
    )
    fields.update(overrides)
    return DocumentInfo(**fields)  # type: ignore[arg-type]


def quoted_answer(texts: list[str], documents: list[DocumentInfo], question: str = "question?") -> Answer:
    """Quote i comes from document i mod len(documents), numbered from 1 like the composer does."""
    sources = [Source(n + 1, d, 0.5) for n, d in enumerate(documents)]
    quotes = [Quote(t, n % len(documents) + 1, n, 0, len(t), 0.5) for n, t in enumerate(texts)]
    return Answer(question, quotes, sources, 0.6)
