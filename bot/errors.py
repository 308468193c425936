"""User-facing errors of the bot layer; adapters catch `CrisisbotError` and show its message."""

from __future__ import annotations

from knowledge.errors import ConfigError, CrisisbotError, SourceError, StoreError

__all__ = ["ConfigError", "CrisisbotError", "QuestionError", "SourceError", "StoreError"]


class QuestionError(CrisisbotError):
    """The question cannot be asked as it is (empty, too long)."""
