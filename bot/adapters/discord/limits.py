"""The core's per-person limits at Discord's door: checked on the event loop before a deferral,
a thread or a queued job, so that one person's flood costs the bot neither threads nor replies.

A refused person is told once per wait (privately); the refusals after it are dropped: a
message gets no reply, a button press is acknowledged without a word (or Discord would show
"This interaction failed"), and a slash command is left unanswered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.adapters.discord.core_calls import say_error
from bot.core.rate_limit import RateLimited


async def admitted(interaction: discord.Interaction[Any], admit: Callable[..., None], *args: object) -> bool:
    """Whether `admit(*args)` (a core limit check) lets this interaction through. Other errors
    of the check (a refused role) go on to the command tree's `on_error`, which says them."""
    try:
        admit(*args)
    except RateLimited as exc:
        await say_error(interaction, exc)
        return False
    return True
