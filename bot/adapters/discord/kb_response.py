"""How a `/kb` command's private response goes: acknowledged at once, edited with progress,
then replaced by the result or the error.

Every reply is ephemeral and acknowledged at once with "thinking…" (a change may wait behind
a long ingest on the knowledge thread, and Discord drops an interaction not acknowledged
within 3 s); the result, the error or the progress is then edited into that response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.adapters.discord.core_calls import NO_MENTIONS
from bot.adapters.discord.kb_format import plain
from bot.core.messages import APOLOGY
from bot.core.progress import DOCUMENTS_ADDED, EDIT_INTERVAL, ProgressThrottle
from knowledge.errors import CrisisbotError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """What the response shows: text, or an embed (with page buttons)."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None


class ProgressEdits:
    """Turns the core's progress callbacks into edits of the deferred response.

    The core calls `progress` from its executor thread, where no discord.py call may run, so
    each call is handed to the event loop. There the core's throttle decides whether an edit
    is due (the deferred response shows Discord's own "thinking…", so the first count is due
    at once); none starts while another is in flight, and none after the final result: a late
    progress edit must not overwrite it.
    """

    def __init__(self, edit: Callable[[Reply], Awaitable[object]], interval: float = EDIT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic, unit: str = DOCUMENTS_ADDED) -> None:
        self._edit = edit
        self._throttle = ProgressThrottle(unit, interval, clock, working_shown=False)
        self._loop = asyncio.get_running_loop()
        self._pending: asyncio.Task[None] | None = None

    def progress(self, done: int, total: int) -> None:
        """The core's callback; safe to call from any thread."""
        try:
            self._loop.call_soon_threadsafe(self._update, done, total)
        except RuntimeError:  # the client is shutting down: the work goes on, unreported
            pass

    def _update(self, done: int, total: int) -> None:
        if self._pending is not None and not self._pending.done():
            return
        text = self._throttle.update(done, total)
        if text is not None:
            self._pending = self._loop.create_task(self._quietly(Reply(text)))

    async def _quietly(self, reply: Reply) -> None:
        try:
            await self._edit(reply)
        except discord.HTTPException:  # a lost progress edit must not fail the operation
            log.warning("progress edit failed", exc_info=True)

    async def finish(self, reply: Reply) -> None:
        self._throttle.finish()
        if self._pending is not None:
            await self._pending
        await self._edit(reply)


async def edit_original(interaction: discord.Interaction[Any], reply: Reply) -> None:
    """Replace the whole response: content, embed and buttons."""
    await interaction.edit_original_response(content=reply.content, embed=reply.embed, view=reply.view,
                                             allowed_mentions=NO_MENTIONS)


async def outcome(action: Awaitable[Reply], what: str) -> Reply:
    """The reply, or the error for people: a CrisisbotError's own words, else logged + apology."""
    try:
        return await action
    except CrisisbotError as exc:
        return Reply(plain(str(exc)))
    except Exception:
        log.exception("/kb %s failed", what)
        return Reply(APOLOGY)


def text(value: object) -> Reply:
    return Reply(plain(str(value)))
