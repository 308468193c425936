"""User-facing errors: their message is shown to people as it is, so it must be clear and short.

Every layer raises these (or subclasses) for problems a person can fix; anything else is a bug
and is logged with its traceback at the adapter edge.
"""

from __future__ import annotations


class CrisisbotError(Exception):
    """A problem the user can understand and fix; the message is shown as it is.

    `template` and `fields`, when set, are the English sentence the message was made from and
    what filled it in, so that a chat adapter can say it in the asker's language instead
    (`bot.core.translation.error_text`)."""

    template: str | None = None
    fields: dict[str, object] = {}

    def worded(self, template: str, **fields: object) -> CrisisbotError:
        """This error, remembering the sentence and fields its message was made from."""
        self.template, self.fields = template, fields
        return self


class SourceError(CrisisbotError):
    """A source (file, line, URL) cannot become a document."""


class ConfigError(CrisisbotError):
    """The settings are invalid; raised once at start."""


class StoreError(CrisisbotError):
    """The knowledge store cannot do what was asked (unknown document, locked, ...)."""
