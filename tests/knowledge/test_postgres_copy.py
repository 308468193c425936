"""`crisisbot migrate --from-sqlite`: an embedded knowledge base copied into a real PostgreSQL
(pgserver, pgvector) row for row, vectors to the float, all or nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest

from bot.core.new_documents import text_document_id
from bot.adapters.cli.app import main
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings, load_settings
from knowledge.documents import Document
from knowledge.postgres.copy_from_sqlite import CopyError, copy_from_sqlite
from tests.fakes import HashingEmbedder

GRAIN = text_document_id("Grain corridor")
BROKEN_ENTRY = "https://example.org/broken"
TEXT = ("The Black Sea grain corridor carried four million tonnes of wheat in October. Insurers cut "
        "war-risk premiums for ships using the corridor after a quiet month. ") * 6


@pytest.fixture
def embedded(make_settings: Callable[..., Settings]) -> Iterator[CrisisBot]:
    """An embedded knowledge base with everything a community builds around it."""
    bot = CrisisBot(make_settings(load_builtin_knowledge=False, questions_per_minute=100),
                    HashingEmbedder(dimension=384))
    admin = bot.actor("telegram", 1, "Olena", platform_admin=True)
    bot.admin.add_text(admin, "Grain corridor", TEXT, kind="news", published="2024-11-02", publisher="Kyiv Wire")
    bot.ingest([Document(id="ports", title="Ports", text="Port officials in Odesa said exports reached a record.",
                         published="2024-11")])
    member = bot.actor("discord", 7, "Ira")
    answer = bot.ask("The Black Sea grain corridor carried four million tonnes of wheat in October?", member)
    bot.ask("Who won the world cup?", member)
    assert answer.found and answer.id is not None
    bot.vote(member, answer.id, -1)
    bot.feeds.subscribe("https://example.org/feed.rss", "telegram:1", "Example wire")
    bot.feeds.mark_seen("https://example.org/feed.rss", ["https://example.org/a"])
    for _ in range(2):  # an entry that keeps failing, backed off
        bot.feeds.record_failure("https://example.org/feed.rss", BROKEN_ENTRY, "HTTP 500")
    assert bot.feeds.backed_off("https://example.org/feed.rss") == {BROKEN_ENTRY}
    yield bot
    bot.close()


def rows(sqlite_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(sqlite_path) as db:
        return db.execute(sql).fetchall()


def test_everything_is_copied_row_for_row_and_vectors_to_the_float(embedded: CrisisBot, postgres_url: str) -> None:
    source = embedded.settings.database_path
    with psycopg.connect(postgres_url) as target:
        report = copy_from_sqlite(source.parent, target)
        assert report.rows == {"documents": 2, "passages": embedded.store.passage_count(), "feedback_meta": 1,
                               "asked": 2, "votes": 1, "audit": 1, "feeds": 1, "feed_entries": 1,
                               "feed_entry_failures": 1}
        assert report.checked_vectors == embedded.store.passage_count()

        documents = target.execute("SELECT id, title, url, publisher, kind, published, language, added_by, sha256,"
                                   " text FROM documents ORDER BY id").fetchall()
        assert documents == rows(source, "SELECT id, title, url, publisher, kind, published, language, added_by,"
                                         " sha256, text FROM documents ORDER BY id")
        passages = target.execute("SELECT id, document_id, ordinal, start_offset, end_offset, text, embedding::text"
                                  " FROM passages ORDER BY id").fetchall()
        original = rows(source, 'SELECT id, document_id, ordinal, start, "end", text, embedding FROM passages ORDER BY id')
        assert [p[:6] for p in passages] == [tuple(o[:6]) for o in original]
        for copied, (*_, blob) in zip(passages, original):
            assert np.array_equal(np.asarray(json.loads(copied[6]), dtype=np.float32),
                                  np.frombuffer(blob, dtype=np.float32))
        # The lexical half reads the title with the text, stemmed.
        found = target.execute("SELECT document_id FROM passages WHERE lexical @@ plainto_tsquery('english',"
                               " 'insurers corridor')").fetchall()
        assert found and {f[0] for f in found} == {GRAIN}
        titled = target.execute("SELECT DISTINCT document_id FROM passages WHERE lexical @@ plainto_tsquery("
                                "'english', 'ports')").fetchall()  # "Ports" is only in a title
        assert titled == [("ports",)]

        # Voters stay anonymous and countable: the same salt, hashes, questions and votes.
        assert target.execute("SELECT value FROM feedback_meta WHERE key = 'salt'").fetchone() == \
            tuple(rows(source, "SELECT value FROM feedback_meta WHERE key = 'salt'")[0])
        asked = target.execute("SELECT id, question, found, document_ids FROM asked ORDER BY id").fetchall()
        assert [(a[0], a[1], a[2]) for a in asked] == [(r[0], r[1], bool(r[2])) for r in rows(
            source, "SELECT id, question, found FROM asked ORDER BY id")]
        assert asked[0][3] == [GRAIN] and asked[1][3] == []
        assert target.execute("SELECT answer_id, value FROM votes").fetchall() == [(asked[0][0], -1)]
        audit = target.execute("SELECT user_name, action, result FROM audit").fetchone()
        assert audit is not None and audit[:2] == ("Olena", "add-text") and audit[2].startswith("ok: added")
        assert target.execute("SELECT url, title FROM feeds").fetchall() == [("https://example.org/feed.rss", "Example wire")]
        # A failing entry keeps its count, error and back-off (the instant, whatever the zone).
        failures = target.execute("SELECT feed_url, entry_url, failures, last_error, retry_at"
                                  " FROM feed_entry_failures").fetchall()
        (original_failure,) = rows(source, "SELECT feed_url, entry_url, failures, last_error, retry_at"
                                           " FROM feed_entry_failures")
        assert [f[:4] for f in failures] == [original_failure[:4]]
        assert failures[0][4] == datetime.fromisoformat(str(original_failure[4]))
        meta = dict(target.execute("SELECT key, value FROM meta").fetchall())
        assert meta["embedding_model"] == "hashing-test"

        # New rows continue after the copied ids instead of colliding with them.
        next_id = target.execute("SELECT nextval(pg_get_serial_sequence('passages', 'id'))").fetchone()[0]
        assert next_id > max(p[0] for p in passages)
        target.rollback()


def test_a_target_with_documents_is_refused_and_left_alone(embedded: CrisisBot, postgres_url: str) -> None:
    source = embedded.settings.database_path
    with psycopg.connect(postgres_url) as target:
        copy_from_sqlite(source, target)
        with pytest.raises(CopyError, match="already has documents"):
            copy_from_sqlite(source, target)
        assert target.execute("SELECT count(*) FROM documents").fetchone() == (2,)
        assert target.execute("SELECT count(*) FROM asked").fetchone() == (2,)


def test_a_failure_in_the_middle_writes_nothing(embedded: CrisisBot, postgres_url: str, tmp_path: Path) -> None:
    """A row PostgreSQL refuses (here a malformed date the embedded store would never write)
    rolls the whole copy back: no documents, no passages, no votes."""
    broken = tmp_path / "broken.sqlite3"
    with sqlite3.connect(embedded.settings.database_path) as db, sqlite3.connect(broken) as copy:
        db.backup(copy)
    with sqlite3.connect(broken) as db:
        db.execute("UPDATE documents SET published = 'last week' WHERE id = 'ports'")
    with psycopg.connect(postgres_url) as target:
        with pytest.raises(CopyError, match="copy failed, nothing was written: .*published"):
            copy_from_sqlite(broken, target)
        counts = [target.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("documents", "passages", "asked")]
        assert counts == [0, 0, 0]


def test_sources_that_cannot_be_copied_are_refused(tmp_path: Path, postgres_url: str,
                                                   make_settings: Callable[..., Settings]) -> None:
    with psycopg.connect(postgres_url) as target:
        with pytest.raises(CopyError, match="no knowledge base here"):
            copy_from_sqlite(tmp_path / "nowhere", target)
        other = tmp_path / "other.sqlite3"
        with sqlite3.connect(other) as db:
            db.execute("CREATE TABLE notes (x)")
        with pytest.raises(CopyError, match="not a crisisbot knowledge base"):
            copy_from_sqlite(other, target)
        small = CrisisBot(make_settings(data_dir=tmp_path / "small", load_builtin_knowledge=False), HashingEmbedder())
        small.ingest([Document(id="d", title="T", text="Some text about the war in Ukraine.")])
        small.close()
        with pytest.raises(CopyError, match="its vectors have 64 dimensions; the PostgreSQL schema holds 384"):
            copy_from_sqlite(tmp_path / "small", target)


def test_the_cli_copies_and_the_bot_answers_from_the_copy(
    embedded: CrisisBot, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = embedded.settings.data_dir
    monkeypatch.delenv("CRISISBOT_CONFIG", raising=False)
    code = main(["migrate", "--from-sqlite", str(source)])
    out, err = capsys.readouterr()
    assert code == 1 and "set CRISISBOT_DATABASE_URL" in err
    monkeypatch.setenv("CRISISBOT_DATABASE_URL", postgres_url)
    code = main(["migrate", "--from-sqlite", str(source)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("copied 2 documents, ") and "1 votes" in out and "sampled vectors identical" in out
    # The copy answers as the original did, from the copied vectors (nothing re-embedded), and
    # what the community built around it came along: votes, audit, feeds.
    question = "The Black Sea grain corridor carried four million tonnes of wheat in October?"
    shared = CrisisBot(load_settings(data_dir=source.parent / "other-process", database_url=postgres_url),
                       HashingEmbedder(dimension=384))
    try:
        before, after = embedded.ask(question), shared.ask(question)
        assert after.found and [q.text for q in after.quotes] == [q.text for q in before.quotes]
        assert [s.document.id for s in after.sources] == [s.document.id for s in before.sources]
        assert shared.feedback.totals() == embedded.feedback.totals()
        assert [e.action for e in shared.audit.entries()] == [e.action for e in embedded.audit.entries()]
        assert [f.url for f in shared.feeds.list()] == ["https://example.org/feed.rss"]
        assert shared.feeds.backed_off("https://example.org/feed.rss") == {BROKEN_ENTRY}  # still waiting
    finally:
        shared.close()
    monkeypatch.setenv("CRISISBOT_DATABASE_URL", "mysql://somewhere")
    code = main(["migrate", "--from-sqlite", str(source)])
    _, err = capsys.readouterr()
    assert code == 1 and "CRISISBOT_DATABASE_URL: " in err and "postgresql://" in err


def test_cyrillic_passages_are_copied_stemmed_by_their_language(embedded: CrisisBot, postgres_url: str) -> None:
    """Issue 20: a Ukrainian passage's lexical vector holds our Ukrainian stems, a Russian one
    PostgreSQL's Russian ones, as passages the bot writes itself would."""
    embedded.ingest([Document(id="uk", title="Буча", text="У Бучі загинули люди."),
                     Document(id="ru", title="Буча", text="В Буче погибли люди.")])
    with psycopg.connect(postgres_url) as target:
        copy_from_sqlite(embedded.settings.database_path.parent, target)
        lexemes = dict(target.execute("SELECT document_id, array_to_string(tsvector_to_array(lexical), ' ')"
                                      " FROM passages WHERE document_id IN ('uk', 'ru')").fetchall())
        assert lexemes == {"uk": "буч загин люд", "ru": "буч люд погибл"}
