"""The PostgreSQL schema's versioned migrations, against a real PostgreSQL 16 + pgvector."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from knowledge.postgres.migrations import Migration, MigrationError, bundled_migrations, check_sequence, migrate


@pytest.fixture
def connection(postgres_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_url) as connection:
        yield connection


def tables(connection: psycopg.Connection) -> set[str]:
    rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {str(r[0]) for r in rows}


def test_the_bundled_migrations_build_the_schema_once(connection: psycopg.Connection) -> None:
    shipped = bundled_migrations()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1)) and len(shipped) >= 3
    assert migrate(connection) == [m.version for m in shipped]
    assert {"documents", "passages", "meta", "asked", "votes", "audit", "feeds", "feed_entries",
            "schema_migrations"} <= tables(connection)
    connection.rollback()  # end the reading transaction: migrate never commits someone else's
    assert migrate(connection) == []  # a second start applies nothing
    indexes = {str(r[0]): str(r[1]) for r in connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'passages'").fetchall()}
    assert "USING hnsw (embedding vector_cosine_ops)" in indexes["passages_embedding"]
    assert "USING gin (lexical)" in indexes["passages_lexical"]


def test_the_schema_holds_a_passage_and_finds_it_by_vector_and_by_words(connection: psycopg.Connection) -> None:
    migrate(connection)
    vector = "[" + ",".join(["0.1"] * 384) + "]"
    with connection.transaction():
        connection.execute(
            "INSERT INTO documents (id, title, kind, published, language, added_by, added_at, sha256, text)"
            " VALUES ('d1', 'Grain corridor', 'news', '2024-11', 'en', 'test', now(), 'abc', 'Ships left Odesa.')")
        connection.execute(
            "INSERT INTO passages (document_id, ordinal, start_offset, end_offset, text, embedding, lexical)"
            " VALUES ('d1', 0, 0, 17, 'Ships left Odesa.', %s, to_tsvector('english', 'Grain corridor Ships left Odesa.'))",
            (vector,))
    nearest = connection.execute("SELECT document_id, 1 - (embedding <=> %s) FROM passages ORDER BY embedding <=> %s"
                                 " LIMIT 1", (vector, vector)).fetchone()
    assert nearest is not None and nearest[0] == "d1" and abs(nearest[1] - 1.0) < 1e-6
    matched = connection.execute("SELECT count(*) FROM passages WHERE lexical @@ plainto_tsquery('english', 'ship')")
    assert matched.fetchone() == (1,)
    with pytest.raises(psycopg.errors.CheckViolation):
        connection.execute("UPDATE documents SET published = 'last week'")
    connection.rollback()


def test_a_write_to_the_knowledge_notifies_listening_processes(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as writer, \
            psycopg.connect(postgres_url, autocommit=True) as listener:
        migrate(writer)
        listener.execute("LISTEN crisisbot_knowledge")
        writer.execute(
            "INSERT INTO documents (id, title, kind, language, added_by, added_at, sha256, text)"
            " VALUES ('d1', 'T', 'news', 'en', 'test', now(), 'abc', 'Text.')")
        notices = list(listener.notifies(timeout=10, stop_after=1))
        assert [n.channel for n in notices] == ["crisisbot_knowledge"] and int(notices[0].payload) >= 1
        writer.execute("DELETE FROM documents")
        later = list(listener.notifies(timeout=10, stop_after=1))
        assert int(later[0].payload) > int(notices[0].payload)


def test_a_failing_migration_leaves_the_previous_ones_and_is_named(connection: psycopg.Connection) -> None:
    good = Migration(1, "first", "CREATE TABLE first_table (id integer)")
    bad = Migration(2, "broken", "CREATE TABLE second_table (id integer); SELECT no_such_function()")
    with pytest.raises(MigrationError, match="migration 0002_broken.sql failed: .*no_such_function"):
        migrate(connection, [good, bad])
    assert "first_table" in tables(connection) and "second_table" not in tables(connection)
    versions = connection.execute("SELECT version FROM schema_migrations").fetchall()
    assert versions == [(1,)]
    connection.rollback()
    fixed = Migration(2, "broken", "CREATE TABLE second_table (id integer)")
    assert migrate(connection, [good, fixed]) == [2]


def test_an_edited_migration_and_a_newer_database_are_refused(connection: psycopg.Connection) -> None:
    first = Migration(1, "first", "CREATE TABLE first_table (id integer)")
    migrate(connection, [first])
    with pytest.raises(MigrationError, match="0001_first.sql was edited after it was applied"):
        migrate(connection, [Migration(1, "first", "CREATE TABLE first_table (id bigint)")])
    migrate(connection, [first, Migration(2, "second", "SELECT 1")])
    with pytest.raises(MigrationError, match=r"schema versions \[2\] that this crisisbot does not know"):
        migrate(connection, [first])
    with pytest.raises(MigrationError, match="without gaps or repeats"):
        check_sequence([first, Migration(3, "third", "SELECT 1")])


def test_processes_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    """The second migrator waits on the advisory lock, then finds nothing left to do."""
    slow = [Migration(1, "slow", "SELECT pg_sleep(0.5); CREATE TABLE once_only (id integer)")]
    results: list[list[int] | BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(postgres_url) as connection:
                results.append(migrate(connection, slow))
        except BaseException as exc:  # reported below, not lost in the thread
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(str, results)) == ["[1]", "[]", "[]"]


def test_migrate_refuses_a_connection_inside_a_transaction(connection: psycopg.Connection) -> None:
    connection.execute("SELECT 1")  # psycopg opens a transaction implicitly
    with pytest.raises(MigrationError, match="outside any transaction"):
        migrate(connection)


def test_0005_reads_the_words_of_links_in_passages_stored_before_it(connection: psycopg.Connection) -> None:
    """A database that ran 0001-0004 keeps its rows; 0005 re-reads their lexical vectors so that
    the words of a link match, and moves the generation so other processes notice."""
    earlier = [m for m in bundled_migrations() if m.version <= 4]
    migrate(connection, earlier)
    vector = "[" + ",".join(["0.1"] * 384) + "]"
    text = "Read https://news.example/elizabeth-holmes-verdict today."
    with connection.transaction():
        connection.execute(
            "INSERT INTO documents (id, title, kind, language, added_by, added_at, sha256, text)"
            " VALUES ('d1', 'Trial', 'news', 'en', 'test', now(), 'abc', %s)", (text,))
        connection.execute(
            "INSERT INTO passages (document_id, ordinal, start_offset, end_offset, text, embedding, lexical)"
            " VALUES ('d1', 0, 0, %s, %s, %s, to_tsvector('english', 'Trial ' || %s))", (len(text), text, vector, text))
    holmes = "SELECT count(*) FROM passages WHERE lexical @@ 'holm'::tsquery"
    assert connection.execute(holmes).fetchone() == (0,)  # the English parser kept the URL whole
    generation = connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    connection.commit()  # migrate refuses to run inside a transaction
    assert migrate(connection, [m for m in bundled_migrations() if m.version <= 5]) == [5]
    assert connection.execute(holmes).fetchone() == (1,)
    assert connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone() != generation


def test_0006_keeps_feed_entry_failures_with_their_feed(connection: psycopg.Connection) -> None:
    """Issue 17: failures of feed entries are stored with the subscription and go with it."""
    assert 6 in migrate(connection)
    with connection.transaction():
        connection.execute("INSERT INTO feeds (url, added_by, added_at) VALUES ('https://x.org/f', 't', now())")
        connection.execute("INSERT INTO feed_entry_failures VALUES ('https://x.org/f', 'https://x.org/a', 2, '500', now())")
        connection.execute("DELETE FROM feeds")
    assert connection.execute("SELECT count(*) FROM feed_entry_failures").fetchone() == (0,)


def _passage_before_0007(connection: psycopg.Connection, doc_id: str, text: str) -> None:
    """A passage as crisisbot stored it before 0007: every text read as English."""
    vector = "[" + ",".join(["0.1"] * 384) + "]"
    connection.execute(
        "INSERT INTO documents (id, title, kind, language, added_by, added_at, sha256, text)"
        " VALUES (%s, 'T', 'news', 'en', 'test', now(), %s, %s)", (doc_id, doc_id, text))
    connection.execute(
        "INSERT INTO passages (document_id, ordinal, start_offset, end_offset, text, embedding, lexical)"
        " VALUES (%s, 0, 0, %s, %s, %s, lexical_vector('T ' || %s))", (doc_id, len(text), text, vector, text))


def test_0007_stems_cyrillic_passages_stored_before_it_once(connection: psycopg.Connection) -> None:
    """Issue 20: Ukrainian and Russian passages stored with English stems are stemmed again by
    their language, once, by the first process to start; English rows keep their vectors."""
    from knowledge.postgres.lexical import DONE_KEY, restem_pending
    from knowledge.postgres.migrations import MIGRATION_LOCK

    migrate(connection, [m for m in bundled_migrations() if m.version <= 6])
    with connection.transaction():
        _passage_before_0007(connection, "uk", "У Бучі загинули люди.")
        _passage_before_0007(connection, "ru", "В Буче погибли люди.")
        _passage_before_0007(connection, "en", "Ships left Odesa https://x.org/a-b.")
    english = connection.execute("SELECT lexical FROM passages WHERE document_id = 'en'").fetchone()
    lexemes = "SELECT array_to_string(tsvector_to_array(lexical), ' ') FROM passages WHERE document_id = %s"
    assert connection.execute(lexemes, ("uk",)).fetchone() == ("бучі загинули люди у",)
    connection.commit()
    assert migrate(connection) == [7]
    assert connection.execute("SELECT 1 FROM meta WHERE key = %s", (DONE_KEY,)).fetchone() is None
    connection.commit()
    assert restem_pending(connection, MIGRATION_LOCK) == 2
    assert connection.execute(lexemes, ("uk",)).fetchone() == ("буч загин люд",)
    assert connection.execute(lexemes, ("ru",)).fetchone() == ("буч люд погибл",)
    assert connection.execute("SELECT lexical FROM passages WHERE document_id = 'en'").fetchone() == english
    connection.commit()
    assert restem_pending(connection, MIGRATION_LOCK) == 0  # done once: the key says so


def test_0007_marks_a_knowledge_base_without_cyrillic_done(connection: psycopg.Connection) -> None:
    from knowledge.postgres.lexical import DONE_KEY

    migrate(connection, [m for m in bundled_migrations() if m.version <= 6])
    with connection.transaction():
        _passage_before_0007(connection, "en", "Ships left Odesa.")
    migrate(connection)
    assert connection.execute("SELECT value FROM meta WHERE key = %s", (DONE_KEY,)).fetchone() == ("1",)
