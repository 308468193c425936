"""Small builders of core records for tests that do not need a knowledge base."""

from __future__ import annotations

from knowledge.documents import DocumentInfo, Kind


def document_info(**overrides: object) -> DocumentInfo:
    fields: dict[str, object] = dict(
        id="d1", title="Strikes on Kharkiv", url="https://example.org/k", publisher="Example",
        kind=Kind.NEWS, published="2026-11-20", language="en", added_by="t", added_at="",
    )
    fields.update(overrides)
    return DocumentInfo(**fields)  # type: ignore[arg-type]
