"""Running `crisisbot` as an operator does: a separate process, the worktree's code, its exit
status and its two streams (tests of exit statuses, signals and the machine's failures must not
run in pytest's own process)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT

NEW_KB = "crisisbot: no knowledge base in"


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISISBOT_", "TELEGRAM_", "DISCORD_"))}
    env.update(PYTHONPATH=str(PROJECT), CRISISBOT_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", CRISISBOT_EMBEDDING_BACKEND="torch",
               CRISISBOT_WARM_ANSWER_SENTENCES="false")
    env.update(extra)
    return env


def crisisbot(args: list[str], env: dict[str, str], timeout: float = 300,
              preexec_fn: Callable[[], Any] | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.adapters.cli.app", *args], env=env, cwd=PROJECT,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn, **kwargs)


def lines(stream: str) -> list[str]:
    """The lines of a stream without the new-knowledge-base notice (tested on its own)."""
    return [line for line in stream.splitlines() if not line.startswith(NEW_KB)]
