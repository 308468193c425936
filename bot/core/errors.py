"""User-facing errors of the bot layer; adapters catch `CrisisbotError` and show its message."""

from __future__ import annotations

from knowledge.errors import ConfigError, CrisisbotError, SourceError, StoreError

__all__ = ["ConfigError", "CrisisbotError", "QuestionError", "SourceError", "StoreError", "SummaryError"]


class QuestionError(CrisisbotError):
    """The question cannot be asked as it is (empty, too long)."""


class SummaryError(CrisisbotError):
    """A summary or digest cannot be made as asked (bad dates, a range that ends before it starts)."""
