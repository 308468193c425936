"""Vectors damaged inside passages.faiss (the header intact) are caught at load by the file's
SHA-256, and the copy is rebuilt from the store: the bot answers again after a restart."""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.vectors import _MAGIC, CorruptIndexError, FaissVectorStore, IndexHeader
from knowledge.documents import Document
from tests.conftest import PROJECT
from tests.fakes import HashingEmbedder

QUESTION = "How many grain ships left the harbour of Izmail?"


def unit_vectors(count: int, dimension: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def damage_the_middle(path: Path, length: int = 4096) -> None:
    """Overwrite `length` bytes around the middle of the file (inside the vectors) with 0x7F:
    floats of 3e38 that outscore every real passage."""
    data = bytearray(path.read_bytes())
    first = len(data) // 2 - length // 2
    data[first : first + length] = b"\x7f" * length
    path.write_bytes(bytes(data))


def header_and_body(path: Path) -> tuple[IndexHeader, bytes]:
    data = path.read_bytes()
    (size,) = struct.unpack("<I", data[len(_MAGIC) : len(_MAGIC) + 4])
    start = len(_MAGIC) + 4
    return IndexHeader.from_json(data[start : start + size]), data[start + size :]


def write_without_checksum(path: Path) -> None:
    """The file as a crisisbot before the checksum wrote it: same index, no sha256 field."""
    header, body = header_and_body(path)
    fields = {k: v for k, v in header.__dict__.items() if k != "sha256"}
    raw = json.dumps(fields).encode()
    path.write_bytes(_MAGIC + struct.pack("<I", len(raw)) + raw + body)


def test_the_checksum_is_written_and_a_damaged_middle_is_refused(tmp_path: Path) -> None:
    store = FaissVectorStore(64, "model")
    store.add(np.arange(1, 2001, dtype=np.int64), unit_vectors(2000, 64))
    path = tmp_path / "passages.faiss"
    store.save(path)
    header, body = header_and_body(path)
    assert header.sha256 is not None and len(header.sha256) == 64
    assert FaissVectorStore.load(path).ids().tolist() == list(range(1, 2001))

    damage_the_middle(path)
    with pytest.raises(CorruptIndexError, match="checksum mismatch"):
        FaissVectorStore.load(path)


def test_a_file_written_before_the_checksum_still_loads(tmp_path: Path) -> None:
    store = FaissVectorStore(16, "model")
    store.add(np.arange(10, dtype=np.int64), unit_vectors(10, 16))
    path = tmp_path / "passages.faiss"
    store.save(path)
    write_without_checksum(path)
    loaded = FaissVectorStore.load(path)
    assert header_and_body(path)[0].sha256 is None and len(loaded) == 10


def corpus() -> list[Document]:
    """Enough passages that the middle of the file lies inside the vectors."""
    filler = [
        Document(id=f"filler-{n}", title=f"Weather report {n}",
                 text=f"Rain is expected over the northern districts on day {n}, with light winds "
                      f"and temperatures near {n % 20} degrees. Farmers were told to expect delays.")
        for n in range(400)
    ]
    ships = Document(id="ships", title="Grain ships",
                     text="Eleven grain ships left the harbour of Izmail on Monday, the port authority said.")
    return [*filler[:200], ships, *filler[200:]]


def finds_itself(bot: CrisisBot, document_id: str) -> bool:
    """Whether the index returns each passage of the document as its own best match (cosine 1)."""
    ids = [i for i, p in bot.store.stored_passages(bot.store.passage_ids().tolist()).items()
           if p.passage.document_id == document_id]
    vectors = bot.store.vectors(ids, bot.index.dimension)
    best = [row[0] if row else (-1, 0.0) for row in bot.index.vectors.search_many(vectors, 1)]
    return all(pid == i and abs(score - 1.0) < 1e-3 for i, (pid, score) in zip(ids, best))


@pytest.mark.slow
def test_vectors_damaged_on_disk_are_rebuilt_at_restart_and_the_bot_answers_again(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", load_builtin_knowledge=False)
    bot = CrisisBot(settings, HashingEmbedder(dimension=384))
    bot.ingest(corpus())
    assert bot.ask(QUESTION).found
    bot.close()
    index_file = settings.index_path
    before = index_file.stat().st_size

    # The damage this guards against: without the checksum (a file of an older crisisbot)
    # the damaged copy loads as it is, its ids still match the store's so nothing is mended,
    # and a passage no longer finds its own vector (cosine 1) among the best matches.
    damage_the_middle(index_file, length=before // 2)
    unchecked = tmp_path / "unchecked"
    unchecked.mkdir()
    (unchecked / "knowledge.sqlite3").write_bytes(settings.database_path.read_bytes())
    (unchecked / index_file.name).write_bytes(index_file.read_bytes())
    write_without_checksum(unchecked / index_file.name)
    blind = CrisisBot(load_settings(data_dir=unchecked, load_builtin_knowledge=False), HashingEmbedder(dimension=384))
    assert not blind.open().changed
    assert not finds_itself(blind, "ships")
    blind.close()

    # The restart: a real `crisisbot ask` process notices, says so in its log, rebuilds the
    # copy from the store and answers.
    restart = subprocess.run(
        [sys.executable, "-m", "tests.bot.runtime.kill_child", "cli", "ask", QUESTION],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "CRISISBOT_DATA_DIR": str(settings.data_dir),
             "CRISISBOT_LOAD_BUILTIN_KNOWLEDGE": "false",
             "PYTHONPATH": os.pathsep.join([str(PROJECT), os.environ.get("PYTHONPATH", "")])},
    )
    assert restart.returncode == 0, restart.stderr
    assert "checksum mismatch" in restart.stderr and "search index mended" in restart.stderr
    assert "Eleven grain ships left the harbour of Izmail" in restart.stdout

    # The rebuilt copy was saved with a good checksum: the next start loads it as it is.
    again = CrisisBot(settings, HashingEmbedder(dimension=384))
    assert not again.open().changed
    assert sorted(again.index.vectors.ids().tolist()) == again.store.passage_ids().tolist()
    assert finds_itself(again, "ships") and again.ask(QUESTION).found
    assert header_and_body(index_file)[0].sha256 is not None
    again.close()


def test_a_damaged_file_is_rebuilt_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(data_dir=tmp_path / "data", load_builtin_knowledge=False)
    bot = CrisisBot(settings, HashingEmbedder(dimension=384))
    bot.ingest(corpus())
    bot.close()
    damage_the_middle(settings.index_path)
    caplog.set_level(logging.WARNING, logger="index.search_index")
    restarted = CrisisBot(settings, HashingEmbedder(dimension=384))
    report = restarted.open()
    assert report.rebuilt and "checksum mismatch" in report.reason and report.added == restarted.store.passage_count()
    assert any("checksum mismatch" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert finds_itself(restarted, "ships") and restarted.ask(QUESTION).found
    restarted.close()
