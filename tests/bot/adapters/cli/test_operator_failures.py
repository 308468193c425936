"""The machine fails, not crisisbot: a full disk, a read-only data folder, a damaged database
page, a missing PostgreSQL driver. Each is one line on stderr and its documented exit status
(docs/configuration.md, "Exit status"), never a traceback; `crisisbot check` finds damage."""

from __future__ import annotations

import resource
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.adapters.cli.operator import cli_env, crisisbot, lines

EXIT_STORAGE, EXIT_DAMAGED = 4, 5


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    errors = lines(result.stderr)
    assert len(errors) == 1 and errors[0].startswith("crisisbot: error: "), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return errors[0]


def mount_tmpfs(folder: Path, size: str) -> bool:
    """A small tmpfs at `folder` (root only); False where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, timeout=30)
    return done.returncode == 0


def umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """64 KB of disk: the seed article alone does not fit."""
    folder = tmp_path / "tiny"
    if not mount_tmpfs(folder, "64k"):
        pytest.skip("cannot mount a tmpfs here (not root, or no mount)")
    yield folder
    umount(folder)


def test_a_full_disk_is_one_line_and_status_4(tiny_disk: Path) -> None:
    result = crisisbot(["sources"], cli_env(tiny_disk / "data"))
    assert result.returncode == EXIT_STORAGE
    assert one_error_line(result) == (
        f"crisisbot: error: cannot write to {tiny_disk / 'data'}: the disk is full; nothing "
        "half-written was kept, run the command again once it is fixed")


def limit_file_size() -> None:
    """In the child: files may grow to 60 KB (writes past it fail with EFBIG, as ENOSPC would;
    Python ignores SIGXFSZ)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))


def test_a_file_size_limit_is_one_line_and_status_4(tmp_path: Path) -> None:
    """The same failure without root: RLIMIT_FSIZE, and SQLite reports EFBIG as an I/O error."""
    data_dir = tmp_path / "data"
    result = crisisbot(["sources"], cli_env(data_dir), preexec_fn=limit_file_size)
    assert result.returncode == EXIT_STORAGE
    assert one_error_line(result).startswith(f"crisisbot: error: cannot write to {data_dir}: a write failed")


def test_a_file_size_limit_during_an_ingest(tmp_path: Path) -> None:
    """A knowledge base that exists, then an import that does not fit: the store's transaction
    rolls back, the line says so, and the knowledge base still answers afterwards."""
    data_dir = tmp_path / "data"
    assert crisisbot(["sources"], cli_env(data_dir)).returncode == 0
    big = tmp_path / "big.md"
    big.write_text("# Big\n\n" + "Kharkiv reported shelling overnight, officials said. " * 3000, encoding="utf-8")
    result = crisisbot(["ingest", str(big)], cli_env(data_dir), preexec_fn=limit_file_size)
    assert result.returncode == EXIT_STORAGE, result.stderr[-3000:]
    one_error_line(result)
    after = crisisbot(["sources"], cli_env(data_dir))
    assert after.returncode == 0 and after.stdout.rstrip().endswith("1 documents")
    assert crisisbot(["check"], cli_env(data_dir)).returncode == 0


@pytest.fixture
def read_only_data(tmp_path: Path) -> Iterator[Path]:
    """A knowledge base on a file system remounted read-only (chmod does not stop root)."""
    folder = tmp_path / "ro"
    if not mount_tmpfs(folder, "8m"):
        pytest.skip("cannot mount a tmpfs here (not root, or no mount)")
    try:
        assert crisisbot(["sources"], cli_env(folder / "data")).returncode == 0
        remount = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, timeout=30)
        if remount.returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield folder / "data"
    finally:
        umount(folder)


@pytest.mark.parametrize("args", [["sources"], ["kb", "log"]])
def test_a_read_only_data_folder_is_one_line_and_status_4(read_only_data: Path, args: list[str]) -> None:
    result = crisisbot(args, cli_env(read_only_data))
    assert result.returncode == EXIT_STORAGE
    assert one_error_line(result).startswith(
        f"crisisbot: error: cannot write to {read_only_data}: the data folder is read-only")


def damage(database: Path, page: int) -> None:
    """Overwrite the middle of a page with 0xff, as a bad sector or a stray write would."""
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = int(db.execute("PRAGMA page_size").fetchone()[0])
    with database.open("r+b") as file:
        file.seek((page - 1) * size + 8)
        file.write(b"\xff" * 200)


@pytest.fixture
def knowledge_base(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    result = crisisbot(["sources"], cli_env(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir


def test_check_passes_a_whole_knowledge_base(knowledge_base: Path) -> None:
    result = crisisbot(["check"], cli_env(knowledge_base))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"{knowledge_base}: ok (database whole, search index matches the store)\n"


def passages_root_page(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'passages'").fetchone()[0])


def test_a_damaged_page_is_found_by_check_and_stops_every_command(knowledge_base: Path) -> None:
    database = knowledge_base / "knowledge.sqlite3"
    damage(database, passages_root_page(database))
    check = crisisbot(["check"], cli_env(knowledge_base))
    assert check.returncode == EXIT_DAMAGED
    assert check.stdout.splitlines()[0].startswith("problem: knowledge.sqlite3: ")
    for args in (["ask", "What happened in Kyiv?"], ["kb", "add-text", "-", "--title", "Note"], ["serve", "telegram"]):
        env = cli_env(knowledge_base, TELEGRAM_BOT_TOKEN="123456:not-used-the-check-comes-first")
        result = crisisbot(args, env, input="Kharkiv was shelled again on Tuesday, officials said.")
        assert result.returncode == EXIT_DAMAGED, (args, result.stderr[-3000:])
        assert one_error_line(result) == (
            f"crisisbot: error: the knowledge base is damaged ({knowledge_base}): run `crisisbot check`, "
            "then restore knowledge.sqlite3 from a backup (docs/deployment.md)")


def test_check_finds_an_index_that_lags_the_store(knowledge_base: Path) -> None:
    """A crash between the store's commit and the index's save leaves the index behind: the
    next start mends it, but a check reports it (and exits 5) rather than mend in silence."""
    (knowledge_base / "passages.faiss").unlink()
    result = crisisbot(["check"], cli_env(knowledge_base))
    assert result.returncode == EXIT_DAMAGED
    assert result.stdout.splitlines()[0] == (
        "problem: passages.faiss is missing: rebuilt from the store at the next start, or now with "
        "`crisisbot reindex`")
    assert crisisbot(["reindex"], cli_env(knowledge_base)).returncode == 0
    assert crisisbot(["check"], cli_env(knowledge_base)).returncode == 0


def test_check_of_a_folder_without_a_knowledge_base_is_a_user_error(tmp_path: Path) -> None:
    result = crisisbot(["check"], cli_env(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "no knowledge base in" in one_error_line(result)
    assert not (tmp_path / "nothing").exists()


SITECUSTOMIZE = '''
import sys

class _NotInstalled:
    """The postgres extra is not installed: its modules are not found, as on a plain install."""
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in {"psycopg", "psycopg_pool", "psycopg_binary", "pgvector"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
'''


@pytest.mark.parametrize("args", [["sources"], ["ask", "What happened in Kyiv?"], ["worker"]])
def test_database_url_without_the_postgres_extra_names_the_extra(tmp_path: Path, args: list[str]) -> None:
    blocker = tmp_path / "no-postgres"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = cli_env(tmp_path / "data", CRISISBOT_DATABASE_URL="postgresql://crisisbot:s3cret-pw@127.0.0.1:9/kb")
    env["PYTHONPATH"] = f"{blocker}:{env['PYTHONPATH']}"
    result = crisisbot(args, env)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "pip install 'crisisbot[postgres]'" in line and "s3cret-pw" not in result.stderr
