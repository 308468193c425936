"""Several processes on one PostgreSQL database: what one changes, the others answer from at
once, with no restart; writes from two processes at the same time are serialised, not lost.

The other process is a real one: `crisisbot` run as a subprocess with CRISISBOT_DATABASE_URL,
as the Telegram bot, the Discord bot and the worker of a docker compose deployment are."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

QUESTION = "How many Leopard tanks did Portugal send to Ukraine?"
STATEMENT = (
    "Portugal sent three Leopard 2A6 tanks to Ukraine in March 2023, the defence ministry said. "
    "The tanks arrived in Poland first and crews trained there for several weeks."
)


def crisisbot(args: list[str], database_url: str, data_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own (its own connections, its own model)."""
    env = {**os.environ, "CRISISBOT_DATABASE_URL": database_url, "CRISISBOT_DATA_DIR": str(data_dir),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CRISISBOT_LOAD_BUILTIN_KNOWLEDGE": "false"}
    env.pop("CRISISBOT_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=300, check=False)


@pytest.fixture
def answering(postgres_url: str, tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> Iterator[CrisisBot]:
    """The process that answers (a chat bot), running before and after the other's changes."""
    bot = CrisisBot(load_settings(data_dir=tmp_path / "chat", database_url=postgres_url,
                                  load_builtin_knowledge=False), real_embedder)
    bot.open()
    yield bot
    bot.close()


def test_a_document_added_by_another_process_is_answered_from_at_once(
    answering: CrisisBot, postgres_url: str, tmp_path: Path
) -> None:
    assert not answering.ask(QUESTION).found  # nothing about it yet

    added = crisisbot(["kb", "add-text", "-", "--title", "Portugal's Leopards", "--kind", "news",
                       "--published", "2023-03-27"], postgres_url, tmp_path / "admin", stdin=STATEMENT)
    assert added.returncode == 0, added.stderr

    answer = answering.ask(QUESTION)  # the same process, no restart, no reload
    assert answer.found and "three Leopard 2A6 tanks" in " ".join(q.text for q in answer.quotes)
    document_id = answer.sources[0].document.id
    assert answer.sources[0].document.title == "Portugal's Leopards"

    removed = crisisbot(["kb", "remove", document_id], postgres_url, tmp_path / "admin")
    assert removed.returncode == 0, removed.stderr
    assert not answering.ask(QUESTION).found
    assert answering.store.document_count() == 0
    entries = answering.audit.entries()
    assert [e.action for e in entries] == ["remove", "add-text"]  # one audit log for all processes


def test_two_processes_writing_at_once_are_serialised_and_both_kept(
    answering: CrisisBot, postgres_url: str, tmp_path: Path
) -> None:
    folders = []
    for n in range(2):
        folder = tmp_path / f"source-{n}"
        folder.mkdir()
        for k in range(6):
            (folder / f"report-{n}-{k}.md").write_text(
                f"# Report {n}-{k}\n\nDistrict {n * 10 + k} of Kharkiv had power again on day {k}. "
                f"Repair crews {n} worked through the night on line {k}.\n", encoding="utf-8")
        folders.append(folder)
    env_dirs = [tmp_path / "writer-a", tmp_path / "writer-b"]
    processes = [
        subprocess.Popen([sys.executable, "-m", "bot", "ingest", str(folder)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "CRISISBOT_DATABASE_URL": postgres_url, "CRISISBOT_DATA_DIR": str(data),
                              "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                              "CRISISBOT_LOAD_BUILTIN_KNOWLEDGE": "false"})
        for folder, data in zip(folders, env_dirs)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    documents = answering.store.documents()
    assert len(documents) == 12
    assert all(d.passage_count >= 1 for d in documents)
    assert answering.store.passage_count() == sum(d.passage_count for d in documents)
    assert answering.ask("When did district 13 of Kharkiv get power again?").found
