"""User-facing errors of the bot layer; adapters catch `CrisisbotError` and show its message."""

from __future__ import annotations

from knowledge.errors import ConfigError, CrisisbotError, SourceError, StoreError

__all__ = ["ConfigError", "CrisisbotError", "QuestionError", "Refusal", "SourceError", "StoreError", "SummaryError"]


class Refusal(CrisisbotError):
    """A request turned away (a limit, a server not the community's). `tell` is True for the
    first refusal of a window (say it) and False for the repeats, which adapters drop without a
    reply: a flood must not be answered with a flood."""

    def __init__(self, message: str, tell: bool = True) -> None:
        super().__init__(message)
        self.tell = tell


class QuestionError(CrisisbotError):
    """The question cannot be asked as it is (empty, too long)."""


class SummaryError(CrisisbotError):
    """A summary or digest cannot be made as asked (bad dates, a range that ends before it starts)."""
