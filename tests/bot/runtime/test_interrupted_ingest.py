"""Ctrl-C between two batches of an import: the committed batch stays, and the audit log and
the exception say which documents it holds (on both backends)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.interrupted import IngestInterrupted
from bot.runtime.service import CrisisBot


def articles(folder: Path, count: int, chars: int) -> list[Path]:
    """`count` Markdown files of distinct text, each about `chars` long (two fill a batch)."""
    folder.mkdir()
    words = random.Random(17)
    paths = []
    for n in range(count):
        sentences = []
        while sum(len(s) for s in sentences) < chars:
            sentences.append(" ".join(f"w{words.randrange(50_000)}" for _ in range(12)).capitalize() + ".")
        path = folder / f"report-{n}.md"
        path.write_text(f"# Report {n}\n\n" + " ".join(sentences) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def test_ctrl_c_after_the_first_batch_is_audited_with_what_was_kept(
    make_bot: Callable[..., CrisisBot], tmp_path: Path,
) -> None:
    bot = make_bot()
    articles(tmp_path / "reports", 4, 90_000)

    def ctrl_c(done: int, total: int) -> None:  # called once a batch is committed
        raise KeyboardInterrupt

    operator = bot.local_operator("olena")
    with pytest.raises(IngestInterrupted) as caught:
        bot.admin.add_files(operator, [tmp_path / "reports"], ctrl_c)
    stored = sorted(d.id for d in bot.store.documents())
    assert len(stored) == 2 and sorted(caught.value.kept) == stored and caught.value.total == 4
    last = bot.audit.entries(limit=1)[0]
    assert (last.action, last.user_name) == ("add-files", "olena")
    assert last.result == f"interrupted: 2 of 4 documents were added and are kept ({', '.join(caught.value.kept)})"


def test_ctrl_c_before_anything_was_committed_says_so(make_bot: Callable[..., CrisisBot], tmp_path: Path) -> None:
    bot = make_bot()
    articles(tmp_path / "reports", 1, 2_000)
    bot.open()

    def ctrl_c_while_embedding(texts: object) -> object:
        raise KeyboardInterrupt

    bot.writer.embedder.embed = ctrl_c_while_embedding  # type: ignore[method-assign]
    with pytest.raises(IngestInterrupted) as caught:
        bot.admin.add_files(bot.local_operator("olena"), [tmp_path / "reports"])
    assert caught.value.kept == [] and bot.store.document_count() == 0
    assert bot.audit.entries(limit=1)[0].result == "interrupted: nothing was added (0 of 1 documents)"
