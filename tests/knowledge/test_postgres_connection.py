"""A connection to PostgreSQL that drops in the middle of a call: reads are run again on a new
connection, a write is all or nothing and says so clearly, and nothing is lost or doubled.

The drop is real: another session calls `pg_terminate_backend` on the server process serving
the call while that call waits on a table lock the test holds, so it dies mid-statement."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg
import pytest

from knowledge.chunking import ChunkingPolicy, chunk_document
from knowledge.documents import Document
from knowledge.postgres.database import DatabaseUnavailable, PostgresDatabase
from knowledge.postgres.store import PostgresStore
from knowledge.store_interface import NewDocument
from tests.fakes import HashingEmbedder

T = TypeVar("T")
EMBEDDER = HashingEmbedder(dimension=384)


def new(id: str, text: str) -> NewDocument:
    document = Document(id=id, title=f"Title {id}", text=text)
    passages = chunk_document(document, EMBEDDER.count_tokens, ChunkingPolicy(target_tokens=12, max_sentences=2))
    return NewDocument(document, passages, EMBEDDER.embed([p.text for p in passages]))


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    database = PostgresDatabase(postgres_url)
    yield PostgresStore(database)
    database.close()


def while_blocked_kill(postgres_url: str, call: Callable[[], T], kills: int = 1) -> T:
    """Run `call` while the test holds an exclusive lock on `documents`; terminate the server
    process of each of the first `kills` statements that wait on it, then let go."""
    with psycopg.connect(postgres_url, autocommit=True) as holder, psycopg.connect(postgres_url, autocommit=True) as killer:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE documents IN ACCESS EXCLUSIVE MODE")
        killed: list[int] = []

        def kill_waiters() -> None:
            deadline = time.monotonic() + 60
            while len(killed) < kills and time.monotonic() < deadline:
                rows = killer.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    " AND pid <> %s", (holder.info.backend_pid,)).fetchall()
                for (pid,) in rows:
                    if pid not in killed:
                        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
                        killed.append(pid)
                time.sleep(0.02)
            holder.execute("COMMIT")

        thread = threading.Thread(target=kill_waiters)
        thread.start()
        try:
            return call()
        finally:
            thread.join(timeout=90)
            assert len(killed) == kills, f"expected {kills} statements to wait on the lock, saw {len(killed)}"


def test_a_read_whose_connection_drops_is_read_again(store: PostgresStore, postgres_url: str) -> None:
    store.write_documents([new("a", "Kyiv was shelled at dawn. Power returned by noon.")], EMBEDDER.name)
    assert while_blocked_kill(postgres_url, store.document_count) == 1


def test_a_read_dropped_twice_gives_a_clear_error(store: PostgresStore, postgres_url: str) -> None:
    assert store.document_count() == 0  # the schema is in place
    with pytest.raises(DatabaseUnavailable, match="lost the connection to PostgreSQL twice while reading"):
        while_blocked_kill(postgres_url, store.document_count, kills=2)
    assert store.document_count() == 0  # and the next call simply works


def test_a_write_whose_connection_drops_is_whole_or_absent_and_can_be_repeated(
    store: PostgresStore, postgres_url: str
) -> None:
    first = new("a", "Kyiv was shelled at dawn. Power returned by noon. Schools reopened.")
    store.write_documents([first], EMBEDDER.name)
    generation = store.generation()
    item = new("b", "Odesa port reopened. Ships left with grain. Insurance costs fell.")

    with pytest.raises(DatabaseUnavailable, match="saved whole or not at all.*repeating it is safe"):
        while_blocked_kill(postgres_url, lambda: store.write_documents([item], EMBEDDER.name))
    assert [d.id for d in store.documents()] == ["a"]  # nothing of "b": no row, no passage
    assert store.passage_count() == len(first.passages) and store.generation() == generation

    again = store.write_documents([item], EMBEDDER.name)  # a new connection; the write is safe to repeat
    assert again.added == ["b"] and store.generation() == generation + 1
    assert store.write_documents([item], EMBEDDER.name).unchanged == [("b", "b")]  # never twice
    assert store.passage_count() == len(first.passages) + len(item.passages)


def test_connections_killed_while_idle_are_replaced_unseen(store: PostgresStore, postgres_url: str) -> None:
    store.write_documents([new("a", "Kyiv was shelled at dawn.")], EMBEDDER.name)
    with psycopg.connect(postgres_url, autocommit=True) as killer:
        killed = killer.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
    assert killed is not None and killed[0] >= 1
    assert store.document_count() == 1
    assert store.write_documents([new("b", "Odesa port reopened.")], EMBEDDER.name).added == ["b"]


def test_an_unreachable_server_is_named_without_its_password(tmp_path: object) -> None:
    database = PostgresDatabase("postgresql://bot:secret-password@127.0.0.1:9/crisisbot")
    with pytest.raises(DatabaseUnavailable, match=r"cannot connect to PostgreSQL at postgresql://bot:\*\*\*@127.0.0.1:9") as caught:
        PostgresStore(database).document_count()
    assert "secret-password" not in str(caught.value)
    database.close()
