"""What went wrong outside the program, in one line an operator can act on, with its exit status.

A full disk, a read-only data folder or a damaged database page is not a bug of crisisbot and
not a mistake in the command: it is the machine. Each reaches the CLI's edge as whatever the
layer that hit it raises (`OSError`, `sqlite3.OperationalError`, faiss's `RuntimeError` with
the C error text), often wrapped; `classify` follows the chain of causes and names the
condition, so cron mail says "the disk is full" instead of a traceback.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass

EXIT_OK, EXIT_USER_ERROR, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
EXIT_STORAGE = 4
"""The data folder cannot be written: the disk is full, a file size limit was reached, the
folder is read-only or not ours. Nothing half-written stays (each write is a transaction)."""
EXIT_DAMAGED = 5
"""The knowledge base is damaged (SQLite reports a malformed page; `crisisbot check` finds it)."""
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader went away (`| head`), as other Unix tools do

FULL = "the disk is full"
TOO_LARGE = "a file reached the size limit of this process (ulimit -f)"
READ_ONLY = "the data folder is read-only"
NOT_ALLOWED = "the data folder is read-only or this user may not write to it"
DAMAGED = "the knowledge base is damaged"
IO_ERROR = "a write failed (disk I/O error: the disk may be full or a file size limit reached)"

_ERRNO = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EFBIG: TOO_LARGE, errno.EROFS: READ_ONLY,
          errno.EACCES: NOT_ALLOWED, errno.EPERM: NOT_ALLOWED}
_SQLITE = {  # sqlite3's messages for the same conditions (it hides errno)
    "database or disk is full": FULL, "attempt to write a readonly database": READ_ONLY,
    "unable to open database file": NOT_ALLOWED, "disk i/o error": IO_ERROR,
    "database disk image is malformed": DAMAGED, "file is not a database": DAMAGED,
}
_C_TEXT = {  # strerror() texts inside faiss's and onnxruntime's RuntimeError messages
    "no space left on device": FULL, "file too large": TOO_LARGE, "read-only file system": READ_ONLY,
    "permission denied": NOT_ALLOWED, "disk quota exceeded": FULL,
}


@dataclass(frozen=True)
class Failure:
    status: int
    message: str


def classify(exc: BaseException, data_dir: object) -> Failure | None:
    """The operator's line for `exc` (or one of its causes), or None if it is not the machine."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        condition = _condition(current)
        if condition is not None:  # an OSError names its file: say which, it may be elsewhere
            return _failure(condition, getattr(current, "filename", None) or data_dir)
        current = current.__cause__ or current.__context__
    return None


def _condition(exc: BaseException) -> str | None:
    from knowledge.database import DamagedDatabase

    if isinstance(exc, DamagedDatabase):
        return DAMAGED
    if isinstance(exc, OSError) and exc.errno in _ERRNO:
        return _ERRNO[exc.errno]
    text = str(exc).lower()
    if isinstance(exc, sqlite3.DatabaseError):
        return next((c for key, c in _SQLITE.items() if key in text), None)
    if isinstance(exc, RuntimeError):
        return next((c for key, c in _C_TEXT.items() if key in text), None)
    return None


def _failure(condition: str, data_dir: object) -> Failure:
    if condition == DAMAGED:
        return Failure(EXIT_DAMAGED, f"{DAMAGED} ({data_dir}): run `crisisbot check`, then restore "
                                     "knowledge.sqlite3 from a backup (docs/deployment.md)")
    return Failure(EXIT_STORAGE, f"cannot write to {data_dir}: {condition}; nothing half-written "
                                 "was kept, run the command again once it is fixed")
