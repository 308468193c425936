"""What the benchmarks share: where the project and the shared data are, progress logs, the
project's revision and the machine, statistics, scratch data folders, and a PostgreSQL server.

The benchmarks run as modules from the project root (`python -m benchmarks.speed.core`), so
`bot`, `index`, `knowledge` and `tests` import from the working tree with no sys.path edit;
importing the `benchmarks` package has already told the model libraries to stay offline.
Heavy libraries (numpy, pgserver) are imported where they are used, so that `--help` is quick.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

PROJECT = Path(__file__).resolve().parents[1]

# Files of the shared data folder (--shared, by default ../shared) that several benchmarks read.
SEED_ARTICLE = Path("knowledge/turning-tides-2024-11.md")
STATEMENTS = Path("corpus/official-statements-2021-2022.jsonl")
REALTIMEQA = Path("eval/realtimeqa-dev")
REALTIMEQA_QUERIES = REALTIMEQA / "queries.jsonl"


def add_shared_option(parser: argparse.ArgumentParser) -> None:
    """--shared PATH: where the shared data folder is (default ../shared beside the project)."""
    parser.add_argument("--shared", type=Path, default=PROJECT.parent / "shared",
                        help="the shared data folder (default: ../shared from the project root)")


# -- progress -------------------------------------------------------------------------------


def make_log(prefix: str) -> Callable[[str], None]:
    """A progress logger: `[prefix HH:MM:SS] message` on stderr, flushed at once."""

    def log(message: str) -> None:
        print(f"[{prefix} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    return log


def ingest_progress(log: Callable[[str], None], label: str, every: float = 10.0) -> Callable[[int, int], None]:
    """A `CrisisBot.ingest` progress callback that logs at most every `every` seconds, and at the
    end: a long ingest shows it is alive and how long is left, without flooding the log."""
    started = time.perf_counter()
    last = [started]

    def update(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] < every and done < total:
            return
        last[0] = now
        elapsed = now - started
        eta = elapsed / done * (total - done) if done else float("nan")
        log(f"{label}: {done:,}/{total:,} documents, {elapsed:.0f} s elapsed, ~{eta:.0f} s left")

    return update


# -- where and on what a figure was measured ------------------------------------------------


def revision() -> str:
    """The project's commit, marked when the working tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(PROJECT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" + uncommitted changes" if changed else "")


def machine() -> str:
    """Cores, CPU model and memory: every figure depends on them."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB RAM, {platform.platform()}"


class CpuWatch:
    """CPU seconds used by other processes while a phase ran (Linux /proc/stat), to judge noise."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.busy, self.own = self._busy(), self._own()

    @staticmethod
    def _busy() -> float:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return float("nan")
        ticks = [int(f) for f in fields]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        other = (self._busy() - self.busy) - (self._own() - self.own)
        return {"wall_s": wall, "other_cpu_s": max(other, 0.0), "cpus": os.cpu_count() or 1}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- statistics -----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The q-th percentile of latencies given in seconds, in milliseconds."""
    return percentile([s * 1000 for s in seconds], q)


def recall_at_k(found: Iterable[Iterable[int]], truth: np.ndarray) -> float:
    """Mean share of each exact top k (a row of `truth`) that a search returned, order ignored;
    a negative id (FAISS's "no hit") never counts. NaN for no queries."""
    if not len(truth):
        return float("nan")
    hits = sum(len({int(i) for i in f if i >= 0} & set(t.tolist())) for f, t in zip(found, truth))
    return hits / (truth.shape[1] * len(truth))


# -- files ----------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every non-blank line of a JSON Lines file, parsed."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def unique_questions(path: Path, count: int) -> list[tuple[str, str | None]]:
    """(text, metadata.topic) of the first `count` questions of a BEIR queries file, each text once."""
    seen: set[str] = set()
    questions: list[tuple[str, str | None]] = []
    for record in read_jsonl(path):
        text = record["text"]
        if text not in seen:
            seen.add(text)
            questions.append((text, (record.get("metadata") or {}).get("topic")))
            if len(questions) == count:
                break
    return questions


def finite(value: Any) -> Any:
    """The report with NaN (an empty set's statistics) as null, so the JSON is standard."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


@contextmanager
def data_folders(keep: Path | None, prefix: str) -> Iterator[Path]:
    """The folder a run builds its data folders in: `keep` (--keep DIR), created and left in
    place for the next run, else a temporary folder removed at the end, even after a failure
    (a 1M-passage run leaves gigabytes)."""
    root = keep.resolve() if keep else Path(tempfile.mkdtemp(prefix=prefix))
    root.mkdir(parents=True, exist_ok=True)
    try:
        yield root
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


# -- PostgreSQL -----------------------------------------------------------------------------


@contextmanager
def postgres(data: Path | None, shared_buffers: str, maintenance_work_mem: str) -> Iterator[str]:
    """A running pgserver PostgreSQL with pgvector, configured for the benchmark; yields its URI.

    The settings that need a restart (shared_buffers) are written with ALTER SYSTEM and the
    server restarted with pg_ctl. pgserver has no restart call, so its record of the postmaster
    is re-read afterwards; without that its clean-up would look at the dead process and leave
    the new server running. `data` keeps the server's folder (stopped, not deleted).
    """
    import pgserver
    from pgserver.utils import PostmasterInfo

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    scratch = None if data else Path(tempfile.mkdtemp(prefix="vector-bench-"))
    folder = data if data else scratch / "pgdata"  # type: ignore[operator]
    server = pgserver.get_server(folder, cleanup_mode="stop" if data else "delete")
    try:
        server.psql(
            f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}';"
            f"ALTER SYSTEM SET maintenance_work_mem = '{maintenance_work_mem}';"
            "ALTER SYSTEM SET max_parallel_maintenance_workers = 1;"
            "ALTER SYSTEM SET max_wal_size = '8GB';"
            "ALTER SYSTEM SET checkpoint_timeout = '30min';"
        )
        # pg_ctl is made at import time, one function per bundled binary, so mypy cannot see it.
        pgserver.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=120)
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
        yield server.get_uri()
    finally:
        server.cleanup()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
