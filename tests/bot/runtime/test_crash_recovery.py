"""A process killed with SIGKILL in the middle of an ingest leaves no half document behind,
and the next start makes the index agree with the store again (with the real model and
corpus; tests/bot/runtime/test_kill_points.py kills at every other point)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from knowledge.crash_test_hook import ENVIRONMENT_VARIABLE
from tests.conftest import PROJECT, shared_file


def kill_mid_ingest(data_dir: Path, source: Path, kill_at: str) -> None:
    """Run `crisisbot ingest` (the real CLI and model) until the test hook kills it at `kill_at`
    (knowledge/crash_test_hook.py): at a named point, not after a guessed delay."""
    env = {**os.environ, "CRISISBOT_DATA_DIR": str(data_dir), ENVIRONMENT_VARIABLE: kill_at}
    process = subprocess.run(
        [sys.executable, "-m", "bot", "ingest", str(source)],
        cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600,
    )
    assert process.returncode == -signal.SIGKILL, f"never reached {kill_at}: {process.stderr[-2000:]!r}"


@pytest.mark.slow
def test_index_and_store_agree_after_kill_9_mid_ingest(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    corpus = shared_file("corpus/news-2022.jsonl")
    source = tmp_path / "news.jsonl"
    source.write_text(corpus.read_text(encoding="utf-8"), encoding="utf-8")
    total = sum(1 for line in source.read_text().splitlines() if line.strip())
    data_dir = tmp_path / "data"

    # The seed article is embedded first, then the first batch of the file: killed once the
    # second batch is embedded, after the first one was committed (the index file not saved).
    kill_mid_ingest(data_dir, source, "writer.embedded:3")

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
