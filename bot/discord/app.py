"""Runs the Discord client: `crisisbot serve discord [--sync] [--guild ID]`."""

from __future__ import annotations

from bot.discord.client import CrisisDiscordClient
from bot.service import CrisisBot
from bot.settings import Settings
from knowledge.errors import ConfigError


def discord_token(settings: Settings) -> str:
    if settings.discord_bot_token is None:
        raise ConfigError("DISCORD_BOT_TOKEN is not set: create a bot in the Discord developer portal and export its token")
    return settings.discord_bot_token.get_secret_value()


def run(service: CrisisBot, settings: Settings, sync: bool = False, guild: int | None = None) -> None:
    """Slash commands are synced only when asked (`--sync`): Discord rate-limits syncing."""
    token = discord_token(settings)
    service.open()  # load the model and index before the first question
    client = CrisisDiscordClient(service, sync=(guild or 0) if sync else None)
    client.run(token, log_handler=None)
