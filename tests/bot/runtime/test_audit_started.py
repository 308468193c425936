"""A change's audit row is begun ("started") before anything is written and finished with its
outcome afterwards, so a process killed in between leaves the row behind (issue 17, item 16;
the kill-point suite checks it after real kills)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.actors import Actor
from bot.core.audit import STARTED
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings
from knowledge.errors import SourceError
from tests.activity_backends import ActivityBackend, activity  # noqa: F401  (the fixture)
from tests.fakes import HashingEmbedder

OLENA = Actor("telegram", "42", "Olena")


def test_a_begun_row_is_visible_at_once_and_finished_once(activity: ActivityBackend) -> None:
    log = activity.audit()
    begun = log.begin(OLENA, "add-files", "news.jsonl")
    assert begun.result == STARTED
    # Another process (a second log on the same database) sees the row before the change ends.
    assert activity.audit().entries() == [begun]
    done = log.finish(begun, "ok: 3 added, 0 replaced, 0 unchanged (9 passages)")
    assert log.entries() == [done] and done.id == begun.id and done.at == begun.at
    assert log.count() == 1
    # A finished row is never changed again.
    log.finish(begun, "ok: something else")
    assert activity.audit().entries()[0].result == "ok: 3 added, 0 replaced, 0 unchanged (9 passages)"


def test_a_finished_outcome_is_clipped_as_a_recorded_one_is(activity: ActivityBackend) -> None:
    log = activity.audit()
    done = log.finish(log.begin(OLENA, "add-text", "t"), "error: " + "x" * 5000)
    assert len(done.result) <= 2000 and log.entries()[0].result == done.result


class WatchedAudit:
    """The bot's audit log, with what it held each time the writer was called."""

    def __init__(self, bot: CrisisBot) -> None:
        self.bot = bot
        self.seen: list[list[tuple[str, str]]] = []

    def look(self) -> None:
        self.seen.append([(e.action, e.result) for e in self.bot.audit.entries()])


def test_the_row_is_there_while_the_change_is_written(
    make_backend_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = CrisisBot(make_backend_settings(load_builtin_knowledge=False), HashingEmbedder(dimension=384))
    watched = WatchedAudit(bot)
    write_documents = bot.store.write_documents

    def write_and_look(*args: object, **kwargs: object) -> object:
        watched.look()
        return write_documents(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.store, "write_documents", write_and_look)
    source = tmp_path / "note.md"
    source.write_text("---\ntitle: Note\n---\nShips left Odesa with grain on Monday.\n", encoding="utf-8")
    bot.admin.add_files(bot.local_operator(), [source])
    assert watched.seen == [[("add-files", STARTED)]]
    assert [(e.action, e.result) for e in bot.audit.entries()] == [("add-files", "ok: added note (1 passages)")]

    with pytest.raises(SourceError):
        bot.admin.add_files(bot.local_operator(), [tmp_path / "missing.md"])
    assert bot.audit.entries()[0].result.startswith("error: ") and bot.audit.count() == 2
    bot.close()
