"""What an operator must be told plainly around a command: a new knowledge base is being
created, the PostgreSQL driver is missing, what an interrupted import kept.

A mistyped `--data-dir` (or CRISISBOT_DATA_DIR) is not an error crisisbot can detect: any empty
folder may be meant to become a knowledge base. But it must not happen silently, or the
operator adds sources to a knowledge base the bot never reads: one line on stderr names the
folder whenever its database does not exist yet.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from bot.core.interrupted import IngestInterrupted
from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from bot.runtime.settings import Settings


def announce_new_knowledge_base(settings: Settings) -> None:
    """One line on stderr when the command is about to create the embedded knowledge base
    (PostgreSQL deployments create theirs once, with `migrate` or the first start)."""
    if settings.database_url is not None or settings.database_path.exists():
        return
    seeded = " with the built-in knowledge" if settings.load_builtin_knowledge else ""
    print(f"crisisbot: no knowledge base in {settings.data_dir}: creating a new one{seeded} "
          "(check --data-dir or CRISISBOT_DATA_DIR if you meant an existing one)", file=sys.stderr)


POSTGRES_MODULES = ("psycopg", "psycopg_pool", "pgvector")


def require_postgres_driver(settings: Settings) -> None:
    """CRISISBOT_DATABASE_URL without the `postgres` extra: say which extra to install, before
    anything starts (else the first query fails deep inside, as an unexpected ImportError)."""
    if settings.database_url is None:
        return
    for name in POSTGRES_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise ConfigError(
                f"CRISISBOT_DATABASE_URL is set but the PostgreSQL driver ({name}) is not installed: "
                "pip install 'crisisbot[postgres]' (or unset CRISISBOT_DATABASE_URL for the embedded store)"
            ) from None


def interrupted_outcome(exc: KeyboardInterrupt) -> str:
    """What Ctrl-C left behind, for the line after "crisisbot: interrupted" ("" if nothing
    is known: not an import)."""
    if isinstance(exc, IngestInterrupted):
        return f"; {exc.outcome} (recorded in the audit log, `crisisbot kb log`)"
    return ""
