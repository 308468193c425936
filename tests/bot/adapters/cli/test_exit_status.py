"""Exit statuses an operator (or cron) relies on, in real processes: a first ingest exits 0 (no
background thread aborting the interpreter), Ctrl-C during an ingest keeps and audits what was
committed, a new knowledge base is announced, a closed pipe ends quietly."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bot.adapters.cli.operator import NEW_KB, cli_env, crisisbot, lines
from tests.conftest import PROJECT, shared_file

ARTICLE = """# Drones over Kyiv

Kyiv was attacked by drones on Monday night. The city's air defence shot down most of them.
Officials said the damage was limited to two warehouses on the left bank.
"""


@pytest.mark.slow
def test_a_first_ingest_into_fresh_folders_exits_0(tmp_path: Path) -> None:
    """The answer-sentence warm-up runs in a thread after an import; with the default embedding
    backend it used to be still inside onnxruntime at interpreter exit: SIGABRT, exit 134,
    after the report was printed (5 folders of 6). Each fresh folder gets its own ONNX export."""
    source = tmp_path / "drones.md"
    source.write_text(ARTICLE, encoding="utf-8")
    for n in range(3):
        data_dir = tmp_path / f"data{n}"
        env = cli_env(data_dir, CRISISBOT_EMBEDDING_BACKEND="auto", CRISISBOT_WARM_ANSWER_SENTENCES="true")
        result = crisisbot(["ingest", str(source)], env)
        assert result.returncode == 0, (n, result.returncode, result.stderr[-2000:])
        assert "1 added, 0 replaced, 0 unchanged" in result.stdout
        assert "terminate called" not in result.stderr and "Traceback" not in result.stderr


def test_a_new_knowledge_base_is_announced_once(tmp_path: Path) -> None:
    mistyped = tmp_path / "dat"  # the operator meant tmp_path / "data"
    first = crisisbot(["sources"], cli_env(mistyped))
    assert first.returncode == 0, first.stderr
    notices = [line for line in first.stderr.splitlines() if line.startswith(NEW_KB)]
    assert notices == [f"{NEW_KB} {mistyped}: creating a new one with the built-in knowledge "
                       "(check --data-dir or CRISISBOT_DATA_DIR if you meant an existing one)"]
    again = crisisbot(["sources"], cli_env(mistyped))
    assert again.returncode == 0 and NEW_KB not in again.stderr


def committed(database: Path) -> tuple[int, list[tuple[str, str]]]:
    """(documents, [(action, result) of the audit log]) as another process sees them."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            documents = int(db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
            audit = [(str(a), str(r)) for a, r in db.execute("SELECT action, result FROM audit ORDER BY id")]
            return documents, audit
    except sqlite3.OperationalError:  # not created yet
        return 0, []


@pytest.mark.slow
def test_ctrl_c_mid_ingest_keeps_audits_and_says_what_was_committed(tmp_path: Path) -> None:
    source = tmp_path / "news.jsonl"
    source.write_text(shared_file("corpus/news-2022.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    total = sum(1 for line in source.read_text().splitlines() if line.strip())
    data_dir = tmp_path / "data"
    # A shell without job control starts background commands with SIGINT ignored, and a child
    # inherits that: the CLI must get Ctrl-C as an operator's terminal delivers it.
    process = subprocess.Popen([sys.executable, "-m", "bot.adapters.cli.app", "ingest", str(source)],
                               cwd=PROJECT, env=cli_env(data_dir), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 600
    try:
        while committed(data_dir / "knowledge.sqlite3")[0] < 2:  # the seed article, then a batch
            assert process.poll() is None, "ingest ended before it could be interrupted"
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    documents, audit = committed(data_dir / "knowledge.sqlite3")
    kept = documents - 1  # the seed article came with the new knowledge base
    assert 0 < kept < total, "interrupted neither too early nor too late"
    outcome = f"{kept} of {total} documents were added and are kept ("
    assert lines(err)[-1].startswith(f"crisisbot: interrupted; {outcome}"), err[-2000:]
    assert lines(err)[-1].endswith("(recorded in the audit log, `crisisbot kb log`)")
    assert "Traceback" not in err
    assert audit[-1][0] == "add-files" and audit[-1][1].startswith(f"interrupted: {outcome}")


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`crisisbot sources | head -c1`: the reader is gone before the answer is written. The
    read end is closed before the child writes, so the write fails every time (a real `head`
    may read a small answer whole before closing)."""
    env = cli_env(tmp_path / "data")
    assert crisisbot(["sources"], env).returncode == 0  # the knowledge base exists
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "bot.adapters.cli.app", "sources", "--format", "json"],
                                env=env, cwd=PROJECT, stdout=write_end, stderr=subprocess.PIPE, text=True,
                                timeout=300)
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == ""


def test_ask_into_head_exits_quietly(tmp_path: Path) -> None:
    """The shell pipeline itself, as an operator types it."""
    env = cli_env(tmp_path / "data")
    result = subprocess.run(f'"{sys.executable}" -m bot.adapters.cli.app ask "What happened in Kyiv?" | head -c1',
                            shell=True, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert len(result.stdout) == 1
    assert lines(result.stderr) == []
