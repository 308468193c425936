"""The audit log keeps who tried to change what, and how it went, newest first."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from bot.actors import Actor
from bot.audit import AuditLog


def test_entries_are_newest_first_with_limit_and_offset(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "knowledge.sqlite3")
    olena = Actor("telegram", "42", "Olena")
    for n in range(5):
        log.record(olena, "remove", f"doc-{n}", f"ok: removed doc-{n} (3 passages)")
    assert [e.target for e in log.entries(limit=2)] == ["doc-4", "doc-3"]
    assert [e.target for e in log.entries(limit=2, offset=2)] == ["doc-2", "doc-1"]
    assert [e.target for e in log.entries(limit=10, offset=4)] == ["doc-0"]
    assert log.entries(limit=10, offset=5) == []
    assert log.count() == 5


def test_an_entry_names_the_person_and_the_time_in_utc(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "knowledge.sqlite3")
    written = log.record(Actor("discord", "900", "Mykola"), "add-url", "https://example.org/a",
                         "refused: not an admin")
    entry = log.entries()[0]
    assert entry == written
    assert (entry.platform, entry.user_id, entry.user_name) == ("discord", "900", "Mykola")
    assert entry.who == "Mykola (discord:900)"
    assert (entry.action, entry.target, entry.result) == ("add-url", "https://example.org/a", "refused: not an admin")
    at = datetime.fromisoformat(entry.at)
    assert at.utcoffset() == timezone.utc.utcoffset(None)
    assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 60
    assert Actor("cli", "root").key and log.record(Actor("cli", "root"), "log", "", "x").who == "cli:root"


def test_the_log_lives_in_the_knowledge_database_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "knowledge.sqlite3"
    first = AuditLog(path)
    first.record(Actor("cli", "ops", "ops"), "set-kind", "d1", "ok: d1 kind other -> news")
    first.close()
    again = AuditLog(path)
    assert [e.result for e in again.entries()] == ["ok: d1 kind other -> news"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 1


def test_long_fields_are_clipped_to_one_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "knowledge.sqlite3")
    entry = log.record(Actor("cli", "ops"), "add-files", "a.md\n" * 1000, "error: bad\nthing")
    assert len(entry.target) == 2000 and entry.target.endswith("…") and "\n" not in entry.target
    assert entry.result == "error: bad thing"
