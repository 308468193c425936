"""The PostgreSQL `lexical` column by language: what crisisbot hands `lexical_vector`.

English and Russian text is stemmed by the database ('english' and 'russian' configs,
migrations 0005 and 0007). There is no Ukrainian config, so a Ukrainian text's Cyrillic words
are replaced by their stems here (knowledge.ukrainian_stemmer, its stop words dropped) and
the database only lower-cases them. The language is decided once per text, by the same rule
as the embedded BM25 index (knowledge.stemming), for passages and questions alike.

A database migrated to 0007 while it already held Cyrillic passages has them stemmed again by
`restem_pending`, right after the migrations and in one transaction, so a passage's vector is
either the old one or the new one and the key `lexical_languages` in `meta` says which.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from knowledge.language import Language
from knowledge.stemming import UKRAINIAN_STOP_WORDS, cyrillic_language, joined_apostrophes
from knowledge.ukrainian_stemmer import stem

if TYPE_CHECKING:
    import psycopg

DONE_KEY = "lexical_languages"
_CYRILLIC_WORD = re.compile(r"(?<!\w)[\u0400-\u04ff]+(?!\w)")  # not "Defenсe" (a Cyrillic "с")
_BATCH = 1000


def _stemmed(match: re.Match[str]) -> str:
    word = match[0].lower()
    return "" if word in UKRAINIAN_STOP_WORDS else stem(word)


def lexical_input(text: str) -> tuple[str, str]:
    """(body, language) for `lexical_vector(body, language)`: the text itself for English and
    Russian, the text with its Cyrillic words stemmed for Ukrainian."""
    language = cyrillic_language(text)
    if language is None:
        return text, Language.EN.value
    if language is Language.RU:
        return text, Language.RU.value
    return _CYRILLIC_WORD.sub(_stemmed, joined_apostrophes(text)), Language.UK.value


def restem_cyrillic(db: psycopg.Connection) -> int:
    """Compute again the lexical vector of every passage with Cyrillic in its title or text, in
    the caller's transaction; returns how many."""
    ids = [int(r[0]) for r in db.execute(
        "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id"
        " WHERE d.title ~ '[Ѐ-ӿ]' OR p.text ~ '[Ѐ-ӿ]' ORDER BY p.id").fetchall()]
    for first in range(0, len(ids), _BATCH):
        rows = db.execute(
            "SELECT p.id, d.title || ' ' || p.text FROM passages p JOIN documents d ON d.id = p.document_id"
            " WHERE p.id = ANY(%s)", (ids[first : first + _BATCH],)).fetchall()
        with db.cursor() as cursor:
            cursor.executemany("UPDATE passages SET lexical = lexical_vector(%s, %s) WHERE id = %s",
                               [(*lexical_input(text), passage_id) for passage_id, text in rows])
    return len(ids)


def restem_pending(connection: psycopg.Connection, lock: int) -> int:
    """After migration 0007: stem the Cyrillic passages again once, whichever process gets there
    first (`lock` is the migrators' advisory lock); 0 when done already."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        if connection.execute("SELECT 1 FROM meta WHERE key = %s", (DONE_KEY,)).fetchone():
            return 0
        count = restem_cyrillic(connection)
        connection.execute("INSERT INTO meta (key, value) VALUES (%s, '1')", (DONE_KEY,))
    return count
