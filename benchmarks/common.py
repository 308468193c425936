"""What the benchmarks share: where the project and the shared data are, progress logs, the
project's revision, statistics and JSON helpers.

The benchmarks run as modules from the project root (`python -m benchmarks.speed.core`), so
`bot`, `index`, `knowledge` and `tests` import from the working tree with no sys.path edit;
importing the `benchmarks` package has already told the model libraries to stay offline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]

# Files of the shared data folder (--shared, by default ../shared) that both scripts read.
SEED_ARTICLE = Path("knowledge/turning-tides-2024-11.md")
STATEMENTS = Path("corpus/official-statements-2021-2022.jsonl")


def add_shared_option(parser: argparse.ArgumentParser) -> None:
    """--shared PATH: where the shared data folder is (default ../shared beside the project)."""
    parser.add_argument("--shared", type=Path, default=PROJECT.parent / "shared",
                        help="the shared data folder (default: ../shared from the project root)")


def make_log(prefix: str) -> Callable[[str], None]:
    """A progress logger: `[prefix HH:MM:SS] message` on stderr, flushed at once."""

    def log(message: str) -> None:
        print(f"[{prefix} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    return log


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


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every non-blank line of a JSON Lines file, parsed."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def finite(value: Any) -> Any:
    """The report with NaN (an empty set's statistics) as null, so the JSON is standard."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value

