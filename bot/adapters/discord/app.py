"""Runs the Discord client: `crisisbot serve discord [--sync] [--guild ID]`."""

from __future__ import annotations

from bot.adapters.discord.client import CrisisDiscordClient
from bot.adapters.discord.digest_post import bot_token
from bot.runtime.service import CrisisBot
from bot.runtime.sections import DiscordSection


def run(service: CrisisBot, config: DiscordSection, sync: bool = False, guild: int | None = None) -> None:
    """Slash commands are synced only when asked (`--sync`): Discord rate-limits syncing."""
    token = bot_token(config)
    service.warm_up()  # model, index and lexical index ready before the first question
    client = CrisisDiscordClient(service, sync=(guild or 0) if sync else None, config=config)
    client.run(token, log_handler=None)
