"""One command's run: the services it opened (all closed before exit, whatever happens) and
how its outcome becomes one line on stderr and the documented exit status.

Closing matters beyond tidiness: the answer-sentence warm-up and background index builds run in
threads, and a thread still inside torch or onnxruntime when the interpreter exits aborts the
process (SIGABRT, exit 134) after a command that succeeded.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from bot.adapters.cli.failures import EXIT_BROKEN_PIPE, EXIT_BUG, EXIT_INTERRUPTED, EXIT_USER_ERROR, classify
from bot.adapters.cli.preflight import announce_new_knowledge_base, interrupted_outcome, require_postgres_driver
from knowledge.errors import CrisisbotError, StoreError

if TYPE_CHECKING:
    from bot.runtime.service import CrisisBot
    from bot.runtime.settings import Settings

log = logging.getLogger("crisisbot")

_OPEN_BOTS: list[CrisisBot] = []


def open_bot(settings: Settings) -> CrisisBot:
    """The service for the command; closed by `close_bots` whatever happens. Says so on stderr
    when the data folder holds no knowledge base yet (a mistyped --data-dir would otherwise
    create and seed a new one silently)."""
    from bot.runtime.service import CrisisBot

    require_postgres_driver(settings)
    announce_new_knowledge_base(settings)
    bot = CrisisBot(settings)
    _OPEN_BOTS.append(bot)
    return bot


def close_bots() -> None:
    """Close every service a command built: joins the answer-sentence warm-up and background
    index builds (a thread still inside torch or onnxruntime at interpreter exit aborts the
    process, SIGABRT, exit 134, after a successful command) and closes the databases."""
    while _OPEN_BOTS:
        bot = _OPEN_BOTS.pop()
        try:
            bot.close()
        except Exception:  # the command's own outcome is what the operator needs to see
            log.warning("closing the knowledge base failed", exc_info=True)


def failed(args: argparse.Namespace, settings: Settings | None, exc: BaseException) -> int:
    """One line on stderr and the documented exit status (docs/configuration.md, "Exit status")."""
    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, BrokenPipeError):
        return _quiet_broken_pipe()
    if isinstance(exc, KeyboardInterrupt):
        print(f"crisisbot: interrupted{interrupted_outcome(exc)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    # The store words a database it cannot open as a StoreError; its cause may be the machine.
    failure = None if _user_error(exc) else classify(exc, settings.data_dir if settings else "the data folder")
    if failure is not None:
        log.debug("crisisbot %s failed", args.command, exc_info=exc)
        print(f"crisisbot: error: {failure.message}", file=sys.stderr)
        return failure.status
    if isinstance(exc, CrisisbotError):
        print(f"crisisbot: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    if not isinstance(exc, Exception):
        raise exc
    log.error("crisisbot %s failed unexpectedly", args.command, exc_info=exc)
    return EXIT_BUG


def _user_error(exc: BaseException) -> bool:
    return isinstance(exc, CrisisbotError) and not isinstance(exc, StoreError)


def _quiet_broken_pipe() -> int:
    """The reader closed stdout (`crisisbot ask ... | head -c1`): stop without a word. Python
    would flush stdout again at exit and print an error, so stdout becomes /dev/null first."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE
