"""Who changed the knowledge base, when, and with what result: the admins' accountability log.

Unlike the feedback log, people are recorded by name here: an admin's change decides what the
bot tells everyone, so the community must be able to see who made it. Refused attempts and
failures are kept too; they are how misuse and broken sources show up. The log lives in the
knowledge database file, in its own table, with its own connection (as the feedback log does).

A change is written in two steps: its row is begun ("started") before anything is written,
in a commit of its own, and finished with the outcome afterwards. A change spans several
commits (an import writes batches, then saves the index), so no single commit can carry the
row; begun first, it is there for every document a crash leaves committed. A row still
"started" is a change that was interrupted (the process was killed) or is still running.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Protocol

from bot.core.actors import Actor


_MAX_FIELD = 2000  # a pasted target (file list, long URL) must not bloat the log
STARTED = "started"


@dataclass(frozen=True)
class AuditEntry:
    """One attempted change; `result` starts with "ok:", "refused:" or "error:", or is
    `STARTED` (running, or interrupted before it could say how it went)."""

    id: int
    at: str  # UTC, ISO 8601, seconds
    platform: str
    user_id: str
    user_name: str
    action: str
    target: str
    result: str

    @property
    def who(self) -> str:
        """'Name (platform:id)', or just 'platform:id' for someone without a display name."""
        key = f"{self.platform}:{self.user_id}"
        return f"{self.user_name} ({key})" if self.user_name else key


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_FIELD else text[: _MAX_FIELD - 1] + "…"


def new_entry_fields(actor: Actor, action: str, target: str, result: str) -> tuple[str, ...]:
    """(at, platform, user_id, user_name, action, target, result) of an entry written now."""
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (at, actor.platform, actor.user_id, _clip(actor.name), action, _clip(target), _clip(result))


def finished(entry: AuditEntry, result: str) -> AuditEntry:
    """`entry` with its outcome, as `Audit.finish` stores it."""
    return replace(entry, result=_clip(result))


class Audit(Protocol):
    """What the bot needs of an audit log, whichever database keeps it."""

    def record(self, actor: Actor, action: str, target: str, result: str) -> AuditEntry: ...
    def begin(self, actor: Actor, action: str, target: str) -> AuditEntry:
        """Write a `STARTED` row, committed before the change writes anything."""
        ...
    def finish(self, entry: AuditEntry, result: str) -> AuditEntry:
        """Give a begun row its outcome (the one change a row ever gets)."""
        ...
    def entries(self, limit: int = 20, offset: int = 0) -> list[AuditEntry]: ...
    def count(self) -> int: ...
    def close(self) -> None: ...
