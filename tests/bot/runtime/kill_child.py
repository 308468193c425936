"""The process the kill-point suite kills: one crisisbot command with the hashing embedder.

    python -m tests.bot.runtime.kill_child cli ARGS...      # `crisisbot ARGS...`
    python -m tests.bot.runtime.kill_child warm PATHS...    # add files as the local operator,
                                                            # then wait for the answer-sentence warm-up

Settings come from the environment (CRISISBOT_DATA_DIR, CRISISBOT_DATABASE_URL, ...), the kill
point from CRISISBOT_TEST_KILL_AT (knowledge/crash_test_hook.py). The real CLI and service run;
only the model is the small deterministic one, so a start costs about a second, not five.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.adapters.cli import app
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings, load_settings
from tests.fakes import HashingEmbedder

DIMENSION = 384  # PostgreSQL's vector column


def make_bot(settings: Settings) -> CrisisBot:
    return CrisisBot(settings, HashingEmbedder(dimension=DIMENSION))


def warm(paths: list[Path]) -> int:
    bot = make_bot(load_settings())
    try:
        bot.admin.add_files(bot.local_operator(), paths)
        if not bot.answer_sentences.wait(120):
            return 2
    finally:
        bot.close()
    return 0


def main(argv: list[str]) -> int:
    mode, rest = argv[0], argv[1:]
    if mode == "warm":
        return warm([Path(p) for p in rest])
    if mode == "cli":
        app._bot = make_bot  # type: ignore[assignment]
        return app.main(rest)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
