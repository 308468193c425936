"""The audit log keeps who tried to change what, and how it went, newest first: in the SQLite
file and, shared by every bot process, in PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from bot.core.actors import Actor
from bot.runtime.storage.audit_postgres import PostgresAuditLog
from knowledge.postgres.database import DatabaseUnavailable, PostgresDatabase
from tests.activity_backends import ActivityBackend, activity  # noqa: F401  (the fixture)
from tests.activity_backends import break_at, drop_other_connections


def test_entries_are_newest_first_with_limit_and_offset(activity: ActivityBackend) -> None:
    log = activity.audit()
    olena = Actor("telegram", "42", "Olena")
    for n in range(5):
        log.record(olena, "remove", f"doc-{n}", f"ok: removed doc-{n} (3 passages)")
    assert [e.target for e in log.entries(limit=2)] == ["doc-4", "doc-3"]
    assert [e.target for e in log.entries(limit=2, offset=2)] == ["doc-2", "doc-1"]
    assert [e.target for e in log.entries(limit=10, offset=4)] == ["doc-0"]
    assert log.entries(limit=10, offset=5) == []
    assert log.entries(limit=-1) == [] and len(log.entries(limit=10, offset=-3)) == 5
    assert log.count() == 5


def test_an_entry_names_the_person_and_the_time_in_utc(activity: ActivityBackend) -> None:
    log = activity.audit()
    written = log.record(Actor("discord", "900", "Mykola"), "add-url", "https://example.org/a",
                         "refused: not an admin")
    entry = log.entries()[0]
    assert entry == written
    assert (entry.platform, entry.user_id, entry.user_name) == ("discord", "900", "Mykola")
    assert entry.who == "Mykola (discord:900)"
    assert (entry.action, entry.target, entry.result) == ("add-url", "https://example.org/a", "refused: not an admin")
    at = datetime.fromisoformat(entry.at)
    assert at.utcoffset() == timezone.utc.utcoffset(None)
    assert entry.at == at.isoformat(timespec="seconds") and entry.at.endswith("+00:00")
    assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 60
    assert Actor("cli", "root").key and log.record(Actor("cli", "root"), "log", "", "x").who == "cli:root"


def test_the_log_survives_a_restart(activity: ActivityBackend) -> None:
    first = activity.audit()
    first.record(Actor("cli", "ops", "ops"), "set-kind", "d1", "ok: d1 kind other -> news")
    first.close()
    again = activity.audit()
    assert [e.result for e in again.entries()] == ["ok: d1 kind other -> news"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_log_lives_in_the_knowledge_database(activity: ActivityBackend) -> None:
    activity.audit().record(Actor("cli", "ops", "ops"), "set-kind", "d1", "ok")
    with sqlite3.connect(activity.path) as db:
        assert db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 1


def test_long_fields_are_clipped_to_one_line(activity: ActivityBackend) -> None:
    log = activity.audit()
    entry = log.record(Actor("cli", "ops"), "add-files", "a.md\n" * 1000, "error: bad\nthing")
    assert len(entry.target) == 2000 and entry.target.endswith("…") and "\n" not in entry.target
    assert entry.result == "error: bad thing"
    assert log.entries()[0] == entry


# -- PostgreSQL: shared by processes, and connections that drop ------------------------------


def test_two_processes_see_each_others_entries_in_order(postgres_url: str) -> None:
    first_db, second_db = PostgresDatabase(postgres_url), PostgresDatabase(postgres_url)
    try:
        first, second = PostgresAuditLog(first_db), PostgresAuditLog(second_db)
        ops = Actor("cli", "ops")
        first.record(ops, "remove", "a", "ok: one")
        second.record(ops, "remove", "b", "ok: two")
        first.record(ops, "remove", "c", "ok: three")
        assert [e.target for e in first.entries()] == ["c", "b", "a"]
        assert second.entries() == first.entries() and second.count() == first.count() == 3
        ids = [e.id for e in second.entries()]
        assert ids == sorted(ids, reverse=True)
    finally:
        first_db.close()
        second_db.close()


def test_a_write_whose_connection_drops_fails_clearly_and_whole(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = PostgresDatabase(postgres_url, max_connections=1)
    try:
        log = PostgresAuditLog(database)
        ops = Actor("cli", "ops")
        log.record(ops, "remove", "before", "ok")

        # Dropped while idle in the pool: the pool's check replaces it; nobody notices.
        assert drop_other_connections(postgres_url) >= 1
        log.record(ops, "remove", "after an idle drop", "ok")
        assert [e.target for e in log.entries()] == ["after an idle drop", "before"]

        # Dropped during a write, after the row went in but before the commit: a clear
        # error, and nothing of it saved.
        with monkeypatch.context() as patch:
            break_at("INSERT INTO audit", patch)
            with pytest.raises(DatabaseUnavailable, match="saved whole or not at all"):
                log.record(ops, "remove", "lost", "ok")
        assert [e.target for e in log.entries()] == ["after an idle drop", "before"]
        assert log.count() == 2

        # The next call gets a working connection again.
        log.record(ops, "remove", "next", "ok")
        assert [e.target for e in log.entries(limit=1)] == ["next"]
    finally:
        database.close()


def test_a_read_whose_connection_drops_is_read_again(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    database = PostgresDatabase(postgres_url, max_connections=1)
    try:
        log = PostgresAuditLog(database)
        log.record(Actor("cli", "ops"), "remove", "kept", "ok")
        with monkeypatch.context() as patch:
            break_at("SELECT id, at", patch)
            assert [e.target for e in log.entries()] == ["kept"]  # read again, transparently
        assert log.count() == 1
    finally:
        database.close()
