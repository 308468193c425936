"""A process killed with SIGKILL in the middle of an ingest leaves no half document behind,
and the next start makes the index agree with the store again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from tests.conftest import PROJECT, shared_file


def committed_documents(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def kill_mid_ingest(data_dir: Path, source: Path, after_documents: int) -> None:
    env = {**os.environ, "CRISISBOT_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "ingest", str(source)],
        cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    try:
        while committed_documents(data_dir / "knowledge.sqlite3") < after_documents:
            assert process.poll() is None, "ingest ended before it could be killed"
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.05)
        time.sleep(0.3)  # into the next batch: embedding or writing it
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_index_and_store_agree_after_kill_9_mid_ingest(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    corpus = shared_file("corpus/news-2022.jsonl")
    source = tmp_path / "news.jsonl"
    source.write_text(corpus.read_text(encoding="utf-8"), encoding="utf-8")
    total = sum(1 for line in source.read_text().splitlines() if line.strip())
    data_dir = tmp_path / "data"

    kill_mid_ingest(data_dir, source, after_documents=2)  # the seed article, then a first batch

    bot = CrisisBot(load_settings(data_dir=data_dir), real_embedder)
    report = bot.open()
    stored = bot.store.passage_ids()
    assert report.changed, "the killed process should have left the index behind the store"
    assert sorted(bot.index.vectors.ids().tolist()) == stored.tolist()

    documents = {d.id: d for d in bot.store.documents()}
    assert 1 < len(documents) < total + 1, "killed neither too early nor too late"
    expected = {json.loads(line)["id"]: json.loads(line)["text"] for line in source.read_text().splitlines()}
    for document in documents.values():
        assert document.passage_count > 0, f"{document.id} has no passages"
        if document.id not in expected:
            continue  # the seed article
        text = bot.store.document_text(document.id)
        assert text == expected[document.id].strip()
        passages = sorted(
            (p.passage for p in bot.store.stored_passages(
                [int(i) for i in stored]).values() if p.passage.document_id == document.id),
            key=lambda p: p.ordinal,
        )
        assert [p.ordinal for p in passages] == list(range(document.passage_count))
        assert all(text[p.start : p.end] == p.text for p in passages)
        assert passages[-1].end == len(text.rstrip(" \n")) or text[passages[-1].end :].strip() == ""

    # Running the same ingest again completes the batch without duplicating anything.
    result = bot.ingest(bot.read([source], "test").documents)
    assert len(result.unchanged) == len(documents) - 1
    # Syndicated copies (near-duplicates of a stored document) are never stored, in either run.
    assert len(bot.store.documents()) == total + 1 - len(result.near_duplicates)
    assert len(result.near_duplicates) <= 5
    assert sorted(bot.index.vectors.ids().tolist()) == bot.store.passage_ids().tolist()
    answer = bot.ask("Which city did Russia say it fully controls in Luhansk?")
    assert answer.found
