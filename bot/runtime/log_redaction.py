"""Logging that never writes a secret: the bot tokens stay out of every line and traceback.

The Bot API puts the Telegram token in every URL (`/bot<TOKEN>/getUpdates`), and httpx logs
each URL at INFO; python-telegram-bot's `InvalidToken` message quotes the rejected token; a
traceback may show either. Logs are read by more people than the token's owner (shared
terminals, `docker compose logs`, log shippers), so the filter here rewrites each record before
any handler formats it: the configured secrets and anything shaped like a Telegram or Discord
token become `[redacted]`, in the message, its arguments, the traceback and the stack.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from bot.runtime.settings import Settings

REDACTED = "[redacted]"

TOKEN_SHAPES = re.compile(
    r"\d{5,}:[A-Za-z0-9_-]{30,}"  # Telegram: <bot id>:<35 characters>, as in /bot<TOKEN>/
    r"|[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"  # Discord: three base64 parts
)

QUIET_LOGGERS = ("httpx", "httpcore")
"""They log every request URL, and a Telegram URL carries the token: kept at WARNING whatever
CRISISBOT_LOG_LEVEL says (the filter would redact them, but 40 lines a minute of polling are noise)."""

MIN_SECRET_LENGTH = 6  # shorter values ("x" in a test) would redact ordinary words


class RedactingFilter(logging.Filter):
    """Rewrites every record that passes a handler: secrets out of message, traceback, stack."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()  # longest first: a token inside a URL secret

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """Redact these values too (the configured tokens, known only once settings load)."""
        known = set(self._secrets) | {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        self._secrets = tuple(sorted(known, key=len, reverse=True))  # sorted once, not per record

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_SHAPES.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as logging does
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def secret_values(settings: Settings) -> list[str]:
    """The configured secrets as text: both bot tokens, the webhook secret, the database URL
    and its password on its own (a driver's error may quote the URL in pieces)."""
    from bot.runtime.settings import SECRET_NAMES

    values = []
    for name in sorted(SECRET_NAMES):
        secret = getattr(settings, name, None)
        if secret is not None:
            values.append(secret.get_secret_value())
    if settings.database_url is not None:
        try:
            password = urlsplit(settings.database_url.get_secret_value()).password
        except ValueError:
            password = None
        values.extend([password] if password else [])
    return values


_FILTER = RedactingFilter()  # one per process: main() may run many times in one (the tests)


def configure_logging(level: str | int) -> RedactingFilter:
    """The process's logging: one stderr handler at `level`, redacting, with httpx quiet;
    uncaught exceptions of threads go through it too (not straight to stderr)."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if threading.excepthook is threading.__excepthook__:  # leave a test runner's hook alone
        threading.excepthook = _log_thread_exception
    return _FILTER


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    exc_info = (args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
    logging.getLogger("crisisbot").error("uncaught exception in %s", name, exc_info=exc_info)


def set_level(level: str | int) -> None:
    """Change the level after settings load; the quiet loggers stay at WARNING or above."""
    logging.getLogger().setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
