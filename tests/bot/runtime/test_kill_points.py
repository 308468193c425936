"""Kill points: a real crisisbot process is killed with SIGKILL at each of 30 named points of
an ingest, the embedding cache, a store commit, the FAISS save and rename, the audit log,
seeding, the answer-sentence warm-up, a feed poll, a removal, an ingest into PostgreSQL and
`migrate` into PostgreSQL; after each kill the knowledge base must be consistent:

- SQLite's `PRAGMA integrity_check` is ok (knowledge and embedding cache), and the FAISS file
  on disk is the old one or the new one, never a half-written one;
- the next run's index holds exactly the store's passage ids;
- every document is whole (its text, and every passage the chunker makes of it) or absent;
- every document an admin's change committed has its audit row;
- the next run finishes the interrupted work and answers a question from it.

The child (tests/bot/runtime/kill_child.py) runs the real CLI and service with the small
hashing embedder; the point comes from CRISISBOT_TEST_KILL_AT (knowledge/crash_test_hook.py).
One child per point, the checks in this process: about 2 s a point.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.audit import STARTED
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings, load_settings
from index.vectors import CorruptIndexError, FaissVectorStore
from knowledge.chunking import chunk_document
from knowledge.crash_test_hook import ENVIRONMENT_VARIABLE
from knowledge.documents import Document
from tests.conftest import PROJECT
from tests.fakes import HashingEmbedder
from tests.web_server import LocalServer

SHIPS = "Eleven grain ships left the harbour of Izmail on Monday, the port authority said."
SHIPS_QUESTION = "How many grain ships left the harbour of Izmail?"
POWER = "Power engineers restored electricity to the Kharkiv region after overnight strikes on substations."
POWER_QUESTION = "Who restored electricity to the Kharkiv region after the strikes?"
SEED_QUESTION = "When did Zelensky send his congratulatory message to Trump?"
STORY_QUESTION = "When did farmers in the Mykolaiv region begin the winter wheat harvest?"
CHANGES = {"add-files", "add-url", "add-text", "refresh", "poll-feed"}


@dataclass(frozen=True)
class Point:
    stage: str
    kill_at: str

    def __str__(self) -> str:
        return f"{self.stage}@{self.kill_at}"


POINTS = [
    # `crisisbot ingest` of three batches into a new data folder (SQLite + FAISS)
    *(Point("ingest", at) for at in (
        "audit.started:1", "writer.embedded:1", "embedding_cache.commit.before:1",
        "embedding_cache.commit.after:1", "store.commit.before:1", "store.commit.after:1",
        "writer.applied:1", "writer.embedded:2", "store.commit.after:2", "writer.save.before:1",
        "faiss.write:1", "faiss.rename.before:1", "faiss.rename.after:1", "writer.save.after:1",
        "audit.finish.before:1",
    )),
    # the first start of a new data folder loads the built-in article (`crisisbot ask`)
    *(Point("seed", at) for at in (
        "store.commit.before:1", "store.commit.after:1", "faiss.rename.before:1", "writer.save.after:1",
    )),
    # `crisisbot remove`
    *(Point("remove", at) for at in ("store.commit.after:1", "faiss.rename.after:1", "audit.finish.before:1")),
    # the background warm-up of answer sentences after an import (the second cache write)
    *(Point("warm", at) for at in ("embedding_cache.commit.before:2", "embedding_cache.commit.after:2")),
    # `crisisbot kb poll` of a feed with two new entries
    *(Point("poll", at) for at in ("store.commit.after:2", "audit.finish.before:1")),
    # `crisisbot ingest` into PostgreSQL
    *(Point("pg-ingest", at) for at in ("pg.write.before_commit:1", "writer.applied:1", "audit.finish.before:1")),
    # `crisisbot migrate --from-sqlite` into PostgreSQL
    *(Point("migrate", at) for at in ("migrate.documents_copied:1", "migrate.commit.before:1",
                                      "migrate.commit.after:1")),
]


# -- the knowledge the stages write ------------------------------------------------------------


def report_corpus(count: int = 26) -> list[dict[str, str]]:
    """Distinct reports of about 6,000 characters (three batches of the writer), then two
    short documents the questions are about."""
    rng = random.Random(17)
    syllables = ["ka", "ro", "mi", "ten", "vos", "ul", "dar", "pe", "zin", "lo", "sha", "bre", "tu", "nim"]
    vocabulary = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(3000)})
    records = []
    for n in range(count):
        sentences = [" ".join(rng.choice(vocabulary) for _ in range(11)).capitalize() + "." for _ in range(75)]
        records.append({"id": f"report-{n}", "title": f"Field report {n}", "text": " ".join(sentences)})
    records.append({"id": "power", "title": "Power restored", "text": POWER})
    records.append({"id": "ships", "title": "Grain ships", "text": SHIPS})
    return records


def write_jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def new_bot(settings: Settings) -> CrisisBot:
    return CrisisBot(settings, HashingEmbedder(dimension=384))


# -- the child -----------------------------------------------------------------------------------


def run_killed(point: Point, args: list[str], env: dict[str, str]) -> None:
    """Run the child until the kill point kills it; fail if it never got there."""
    environment = {
        **os.environ, **env, ENVIRONMENT_VARIABLE: point.kill_at,
        "PYTHONPATH": os.pathsep.join([str(PROJECT), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.run(
        [sys.executable, "-m", "tests.bot.runtime.kill_child", *args],
        cwd=PROJECT, env=environment, capture_output=True, text=True, timeout=180,
    )
    assert child.returncode == -signal.SIGKILL, (
        f"{point} was never reached (exit {child.returncode}):\n{child.stdout[-1500:]}\n{child.stderr[-3000:]}"
    )


# -- what must hold after every kill -------------------------------------------------------------


def integrity_ok(path: Path) -> None:
    if not path.exists():
        return
    with sqlite3.connect(path, timeout=30) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], path


def index_file_whole(path: Path) -> None:
    """The file at the final name is a complete index (the old or the new one), or absent."""
    if path.exists():
        try:
            FaissVectorStore.load(path)
        except CorruptIndexError as exc:
            pytest.fail(f"a damaged index file was left at {path}: {exc}")


def documents_whole(bot: CrisisBot, expected: dict[str, str]) -> None:
    """Every stored document has its full text and exactly the passages the chunker makes."""
    stored = bot.store.passage_ids().tolist()
    passages: dict[str, list[tuple[int, int, int, str]]] = {}
    for p in bot.store.stored_passages(stored).values():
        passages.setdefault(p.passage.document_id, []).append(
            (p.passage.ordinal, p.passage.start, p.passage.end, p.passage.text))
    for info in bot.store.documents():
        text = bot.store.document_text(info.id)
        if info.id in expected:
            assert text == expected[info.id].strip(), f"{info.id}: text differs"
        chunks = chunk_document(Document(id=info.id, title=info.title, text=text), bot.embedder.count_tokens)
        got = sorted(passages.get(info.id, []))
        assert [(o, s, e) for o, s, e, _ in got] == [(c.ordinal, c.start, c.end) for c in chunks], (
            f"{info.id}: {len(got)} of {len(chunks)} passages")
        assert all(text[s:e] == t for _, s, e, t in got)


def changes_audited(bot: CrisisBot) -> None:
    """An audit row, begun before the change or finished ok, for every document an admin added."""
    entries = bot.audit.entries(limit=1000)
    for info in bot.store.documents():
        if info.added_by == "builtin":
            continue
        rows = [e for e in entries if e.action in CHANGES and e.at <= info.added_at
                and (e.result == STARTED or e.result.startswith("ok:"))]
        assert rows, f"{info.id} was committed at {info.added_at} with no audit row: {entries}"


def consistent(bot: CrisisBot, expected: dict[str, str], embedded: bool = True) -> None:
    """Open the next run and check it (after the on-disk checks of the data folder)."""
    bot.open()
    if embedded:
        assert sorted(bot.index.vectors.ids().tolist()) == bot.store.passage_ids().tolist()
    documents_whole(bot, expected)
    changes_audited(bot)


def check_folder(settings: Settings) -> None:
    integrity_ok(settings.database_path)
    integrity_ok(settings.embedding_cache_path)
    index_file_whole(settings.index_path)


# -- the stages ----------------------------------------------------------------------------------


@dataclass
class Case:
    point: Point
    tmp: Path
    request: pytest.FixtureRequest

    def settings(self, **overrides: object) -> Settings:
        overrides.setdefault("data_dir", self.tmp / "data")
        overrides.setdefault("load_builtin_knowledge", False)
        return load_settings(**overrides)

    def env(self, settings: Settings, **extra: str) -> dict[str, str]:
        env = {"CRISISBOT_DATA_DIR": str(settings.data_dir),
               "CRISISBOT_LOAD_BUILTIN_KNOWLEDGE": str(settings.load_builtin_knowledge).lower()}
        if settings.database_url is not None:
            env["CRISISBOT_DATABASE_URL"] = settings.database_url.get_secret_value()
        return {**env, **extra}


def ingest_stage(case: Case, database_url: str | None = None) -> None:
    records = report_corpus()
    source = write_jsonl(case.tmp / "reports.jsonl", records)
    settings = case.settings(database_url=database_url)
    run_killed(case.point, ["cli", "ingest", str(source)], case.env(settings))
    if database_url is None:
        check_folder(settings)
    bot = new_bot(settings)
    try:
        expected = {r["id"]: r["text"] for r in records}
        consistent(bot, expected, embedded=database_url is None)
        bot.admin.add_files(bot.local_operator(), [source])  # the next run completes the import
        assert sorted(d.id for d in bot.store.documents()) == sorted(expected)
        consistent(bot, expected, embedded=database_url is None)
        assert bot.ask(SHIPS_QUESTION).found
    finally:
        bot.close()


def seed_stage(case: Case) -> None:
    settings = case.settings(load_builtin_knowledge=True)
    run_killed(case.point, ["cli", "ask", SEED_QUESTION], case.env(settings))
    check_folder(settings)
    bot = new_bot(settings)
    try:
        consistent(bot, {})
        assert [d.added_by for d in bot.store.documents()] == ["builtin"]  # seeded once
        assert bot.ask(SEED_QUESTION).found
    finally:
        bot.close()


def with_two_documents(case: Case, settings: Settings) -> dict[str, str]:
    records = report_corpus()[-2:]
    bot = new_bot(settings)
    try:
        bot.admin.add_files(bot.local_operator(), [write_jsonl(case.tmp / "two.jsonl", records)])
    finally:
        bot.close()
    return {r["id"]: r["text"] for r in records}


def remove_stage(case: Case) -> None:
    settings = case.settings()
    expected = with_two_documents(case, settings)
    run_killed(case.point, ["cli", "remove", "power"], case.env(settings))
    check_folder(settings)
    bot = new_bot(settings)
    try:
        consistent(bot, expected)
        stored = {d.id for d in bot.store.documents()}
        if "power" not in stored:  # the removal committed: so did its audit row
            assert any(e.action == "remove" and e.target == "power" for e in bot.audit.entries())
        else:
            bot.admin.remove(bot.local_operator(), "power")
        assert sorted(bot.index.vectors.ids().tolist()) == bot.store.passage_ids().tolist()
        assert bot.ask(SHIPS_QUESTION).found and not bot.ask(POWER_QUESTION).found
    finally:
        bot.close()


def warm_stage(case: Case) -> None:
    records = report_corpus()[-3:]
    source = write_jsonl(case.tmp / "three.jsonl", records)
    settings = case.settings()
    run_killed(case.point, ["warm", str(source)],
               case.env(settings, CRISISBOT_WARM_ANSWER_SENTENCES="true", CRISISBOT_EMBEDDING_CACHE="true"))
    check_folder(settings)
    bot = new_bot(settings)
    try:
        consistent(bot, {r["id"]: r["text"] for r in records})
        assert {d.id for d in bot.store.documents()} == {r["id"] for r in records}  # committed before
        bot.embed_answer_sentences()  # `crisisbot prepare-answers` fills in what the warm-up missed
        assert bot.ask(SHIPS_QUESTION).found
    finally:
        bot.close()


def poll_stage(case: Case) -> None:
    web: LocalServer = case.request.getfixturevalue("web")
    settings = case.settings(allow_private_urls=True)
    bot = new_bot(settings)
    try:
        bot.admin.subscribe(bot.local_operator(), web.url("/feed.rss"))
    finally:
        bot.close()
    run_killed(case.point, ["cli", "kb", "poll"], case.env(settings, CRISISBOT_ALLOW_PRIVATE_URLS="true"))
    check_folder(settings)
    bot = new_bot(settings)
    try:
        consistent(bot, {})
        bot.admin.poll_feeds(bot.local_operator())  # the next poll takes in what is missing, once
        assert len(bot.store.documents()) == 2
        consistent(bot, {})
        assert bot.ask(STORY_QUESTION).found
    finally:
        bot.close()


def migrate_stage(case: Case) -> None:
    import psycopg

    from knowledge.postgres.copy_from_sqlite import copy_from_sqlite

    source = case.settings(data_dir=case.tmp / "embedded")
    expected = with_two_documents(case, source)
    with sqlite3.connect(source.database_path) as db:
        audit_rows = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    url = str(case.request.getfixturevalue("postgres_url"))
    target = case.settings(database_url=url)
    run_killed(case.point, ["cli", "migrate", "--from-sqlite", str(source.data_dir)], case.env(target))
    integrity_ok(source.database_path)
    with psycopg.connect(url) as connection:
        copied = connection.execute("SELECT COUNT(*) FROM documents").fetchone()
        audit = connection.execute("SELECT COUNT(*) FROM audit").fetchone()
    assert copied is not None and audit is not None
    if case.point.kill_at.startswith("migrate.commit.after"):
        assert (copied[0], audit[0]) == (2, audit_rows)  # committed whole
    else:
        assert copied[0] == 0 and audit[0] == 0  # nothing of an uncommitted copy
        with psycopg.connect(url) as connection:
            copy_from_sqlite(source.data_dir, connection)  # the next run copies it all
    bot = new_bot(target)
    try:
        consistent(bot, expected, embedded=False)
        assert bot.ask(SHIPS_QUESTION).found
    finally:
        bot.close()


STAGES: dict[str, Callable[[Case], None]] = {
    "ingest": ingest_stage,
    "seed": seed_stage,
    "remove": remove_stage,
    "warm": warm_stage,
    "poll": poll_stage,
    "pg-ingest": lambda case: ingest_stage(case, str(case.request.getfixturevalue("postgres_url"))),
    "migrate": migrate_stage,
}


def test_there_are_at_least_twenty_kill_points_over_every_stage() -> None:
    assert len(POINTS) >= 20 and {p.stage for p in POINTS} == set(STAGES)
    assert len({str(p) for p in POINTS}) == len(POINTS)


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS, ids=str)
def test_a_kill_at_this_point_leaves_a_consistent_knowledge_base(
    point: Point, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    STAGES[point.stage](Case(point, tmp_path, request))
