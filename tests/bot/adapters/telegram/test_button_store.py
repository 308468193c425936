"""The buttons' store: what PTB hands it comes back after a restart, a write is whole or
absent, and a damaged file never stops the bot."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.adapters.telegram.button_store import ButtonStore

DATA = ([("keyboard", 1_700_000_000.0, {"button": ("vote", 42, 1)})], {"query": "keyboard"})


def test_what_was_stored_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "buttons.pickle"
    store = ButtonStore(path)
    assert asyncio.run(store.get_callback_data()) is None  # nothing yet
    asyncio.run(store.update_callback_data(DATA))  # type: ignore[arg-type]
    assert asyncio.run(ButtonStore(path).get_callback_data()) == DATA
    assert [p.name for p in tmp_path.iterdir()] == ["buttons.pickle"]  # no temporary left


def test_a_failed_write_keeps_the_previous_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "buttons.pickle"
    asyncio.run(ButtonStore(path).update_callback_data(DATA))  # type: ignore[arg-type]

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    newer = ([("other", 1.0, {})], {})
    with pytest.raises(OSError):
        asyncio.run(ButtonStore(path).update_callback_data(newer))  # type: ignore[arg-type]
    monkeypatch.undo()
    assert asyncio.run(ButtonStore(path).get_callback_data()) == DATA
    assert [p.name for p in tmp_path.iterdir()] == ["buttons.pickle"]


def test_a_damaged_file_is_set_aside_and_the_bot_starts_empty(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "buttons.pickle"
    path.write_bytes(b"\x80\x05 not a pickle")
    assert asyncio.run(ButtonStore(path).get_callback_data()) is None
    assert (tmp_path / "buttons.pickle.unreadable").exists() and not path.exists()
    assert "unreadable" in caplog.text


def test_only_the_buttons_are_kept(tmp_path: Path) -> None:
    store = ButtonStore(tmp_path / "buttons.pickle")
    flags = store.store_data
    assert flags.callback_data and not (flags.user_data or flags.chat_data or flags.bot_data)
