"""`crisisbot serve` and `crisisbot worker`: the long-running processes.

They run for weeks, so they check the database before starting (a damaged page found at
start, not at the first write hours later), and a bot token the platform rejects is a setting
to fix, reported in one line without its value (the libraries' own messages quote the token).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.adapters.cli.failures import EXIT_OK
from bot.adapters.cli.session import open_bot
from knowledge.errors import ConfigError, CrisisbotError

if TYPE_CHECKING:
    from bot.runtime.settings import Settings

def _verify_database(settings: Settings) -> None:
    """A serving process runs for weeks: refuse to start on damaged pages (SQLite's
    quick_check, under a second at 100,000 passages) rather than fail at the first write."""
    from knowledge.database import DamagedDatabase, integrity_problems

    if settings.database_url is None and settings.database_path.exists():
        problems = integrity_problems(settings.database_path, quick=True, limit=1)
        if problems:
            raise DamagedDatabase(problems[0])


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """A token the platform rejects is a setting to fix: one line without its value, exit 1
    (the libraries' own messages quote the token, python-telegram-bot's in full)."""
    _verify_database(settings)
    if args.platform == "discord":
        import discord

        from bot.adapters.discord.app import run as run_discord

        try:
            run_discord(open_bot(settings), settings.discord, sync=args.sync, guild=args.guild)
        except discord.LoginFailure:
            raise ConfigError(REJECTED_TOKEN.format(platform="Discord", name="DISCORD_BOT_TOKEN",
                                                    where="the Developer Portal, Bot tab")) from None
        return EXIT_OK
    if args.sync or args.guild:
        raise CrisisbotError("--sync and --guild are for discord")
    from telegram.error import InvalidToken

    from bot.adapters.telegram.app import run

    try:
        run(open_bot(settings), settings.telegram)
    except InvalidToken:
        raise ConfigError(REJECTED_TOKEN.format(platform="Telegram", name="TELEGRAM_BOT_TOKEN",
                                                where="@BotFather")) from None
    return EXIT_OK


REJECTED_TOKEN = "{platform} rejected the bot token ({name}): copy it again from {where}"


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime.worker import require_work, run_worker

    require_work(settings)  # before the new-knowledge-base notice: nothing is created then
    _verify_database(settings)
    run_worker(open_bot(settings))
    return EXIT_OK
