"""`crisisbot check`: is the knowledge base whole? For cron and for after a crash or a full disk.

It reads, never writes: SQLite's `integrity_check` on the knowledge database (and on the
embedding cache, which is only a cache), then the passage ids in the search index file against
the passage ids in the store. A running bot mends an index that lags the store at its next
start, but a check must report what it finds, not mend it: `crisisbot reindex` does that.
Exit 0 when all is well, 5 (`EXIT_DAMAGED`) when anything is wrong, one line a finding.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.adapters.cli.failures import EXIT_DAMAGED, EXIT_OK
from knowledge.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from bot.runtime.settings import Settings

MAX_IDS_SHOWN = 5


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge.database import integrity_problems

    if settings.database_url is not None:
        raise ConfigError("crisisbot check reads an embedded data folder; for PostgreSQL use pg_amcheck "
                          "(unset CRISISBOT_DATABASE_URL to check a data folder)")
    database = settings.database_path
    if not database.exists():
        raise ConfigError(f"no knowledge base in {settings.data_dir} (no knowledge.sqlite3): nothing to check")
    findings = [f"{database.name}: {p}" for p in integrity_problems(database)]
    cache = settings.embedding_cache_path
    if cache.exists():
        findings += [f"{cache.name}: {p} (only a cache: delete it and it is filled again)"
                     for p in integrity_problems(cache)]
    if not findings:
        findings = _index_findings(settings)
    for finding in findings:
        print(f"problem: {finding}")
    if findings:
        print(f"{settings.data_dir}: {len(findings)} problem(s) found")
        return EXIT_DAMAGED
    print(f"{settings.data_dir}: ok (database whole, search index matches the store)")
    return EXIT_OK


def _index_findings(settings: Settings) -> list[str]:
    """The index file's passage ids against the store's (both read-only)."""
    import numpy as np

    from index.vectors import CorruptIndexError, FaissVectorStore
    from knowledge.database import stored_passage_ids

    stored = np.asarray(stored_passage_ids(settings.database_path), dtype=np.int64)
    path = settings.index_path
    try:
        indexed = np.sort(FaissVectorStore.load(path).ids())
    except FileNotFoundError:
        if len(stored) == 0:
            return []
        return [f"{path.name} is missing: rebuilt from the store at the next start, or now with `crisisbot reindex`"]
    except CorruptIndexError as exc:
        return [f"{exc}: rebuilt at the next start, or now with `crisisbot reindex`"]
    missing = np.setdiff1d(stored, indexed)
    extra = np.setdiff1d(indexed, stored)
    findings = []
    if len(missing):
        findings.append(f"{path.name} lacks {len(missing)} stored passage(s) ({_ids(missing)})")
    if len(extra):
        findings.append(f"{path.name} has {len(extra)} passage(s) the store does not ({_ids(extra)})")
    if findings:
        findings.append("the index is mended at the next start, or now with `crisisbot reindex`")
    return findings


def _ids(ids: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in ids[:MAX_IDS_SHOWN])
    return shown + (", …" if len(ids) > MAX_IDS_SHOWN else "")
