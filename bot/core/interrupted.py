"""What an interrupted import kept, so that it is audited and told like any finished one.

An import commits its documents in batches (one transaction each); Ctrl-C between two batches
keeps the ones committed and rolls back the one in progress. Those documents are in the
knowledge base, so the audit log must say who added them and the person who pressed Ctrl-C must
be told: "nothing happened" would be false and "it failed" too.
"""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.documents import Document
from knowledge.store_interface import KnowledgeStore

MAX_IDS_SHOWN = 10


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C during an import; `outcome` says what was kept (for the audit log and the terminal)."""

    def __init__(self, kept: Sequence[str], total: int) -> None:
        super().__init__()
        self.kept = list(kept)
        self.total = total

    @property
    def outcome(self) -> str:
        if not self.kept:
            return f"nothing was added (0 of {self.total} documents)"
        shown = ", ".join(self.kept[:MAX_IDS_SHOWN])
        more = f" and {len(self.kept) - MAX_IDS_SHOWN} more" if len(self.kept) > MAX_IDS_SHOWN else ""
        return f"{len(self.kept)} of {self.total} documents were added and are kept ({shown}{more})"


def kept_documents(store: KnowledgeStore, documents: Sequence[Document], known_before: set[str]) -> list[str]:
    """Ids of the documents committed since `known_before` (their content hashes) was read."""
    stored = store.known_hashes([d.sha256 for d in documents])
    return [stored[d.sha256] for d in documents if d.sha256 in stored and d.sha256 not in known_before]
