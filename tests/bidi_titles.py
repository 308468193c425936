"""A document whose title and publisher were stored with bidi controls, zero-width characters
and NUL before the readers stripped them: the renderers must still show a straight citation.

The characters are written into the store with raw SQL, past `Document`'s cleaning, as an
older version of the bot (or another tool) left them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.runtime.service import CrisisBot

# Right-to-left override, isolates, marks, the Arabic letter mark, zero-width space and joiner, NUL.
INVISIBLE = ("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
             "\u200b\u200c\u200d\u2060\ufeff\x00")
STORED_TITLE = "Kharkiv power\u200b cuts\u202e after strikes\u2066\u200f on substations\x00\u2069"
STORED_PUBLISHER = "\u2067Kyiv\u200d Independent\u202e\u061c"
TITLE = "Kharkiv power cuts after strikes on substations"
PUBLISHER = "Kyiv Independent"
TEXT = ("Rolling power cuts hit Kharkiv on Tuesday after Russian strikes damaged three of the city's "
        "substations, the regional administration said.")
QUESTION = "Did power cuts hit Kharkiv after strikes damaged substations?"


def add_document_stored_with_bidi(service: CrisisBot, folder: Path) -> str:
    """Ingest a clean document, then put the invisible characters into its stored title and
    publisher behind the store's back; returns its id."""
    source = folder / "kharkiv-power.md"
    source.write_text(f"---\ntitle: {TITLE}\npublisher: {PUBLISHER}\nkind: news\npublished: 2024-12-03\n---\n{TEXT}\n")
    (document,) = service.read([source], "test").documents
    service.ingest([document])
    with sqlite3.connect(service.settings.database_path) as db:
        db.execute("UPDATE documents SET title = ?, publisher = ? WHERE id = ?",
                   (STORED_TITLE, STORED_PUBLISHER, document.id))
    stored = service.store.document_info(document.id)
    assert (stored.title, stored.publisher) == (STORED_TITLE, STORED_PUBLISHER)
    return document.id


def invisible_in(text: str) -> set[str]:
    """The invisible characters left in `text` (none, when it is rendered right)."""
    return {f"U+{ord(c):04X}" for c in text if c in INVISIBLE}
