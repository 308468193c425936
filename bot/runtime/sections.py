"""The settings an adapter or the scheduler receives: its own section, never the whole object.

The environment variables stay flat (`CRISISBOT_TELEGRAM_ADMIN_IDS`, ...), so `Settings`
loads and validates them in one place; the runtime then hands each part of the program only
its section. Adapters never read `Settings`: the Telegram adapter knows nothing of Discord's
role ids, and the core receives plain values (policies, limits) rather than settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bot.core.schedule import DigestSchedule


@dataclass(frozen=True)
class ScheduleSection:
    """What runs on a clock: the feed poll and the scheduled digest."""

    run_schedules: bool  # False when `crisisbot worker` runs them instead of the chat processes
    feed_poll_minutes: int  # 0: no scheduled poll
    digest: DigestSchedule


@dataclass(frozen=True)
class TelegramSection:
    """The Telegram adapter's settings (admin and moderator ids go to the core's roles)."""

    bot_token: SecretStr | None
    api_url: str
    webhook_url: str | None
    webhook_listen: str
    webhook_port: int
    webhook_path: str
    webhook_secret: SecretStr | None
    digest_chat_id: int | None
    maintainer: str
    schedules: ScheduleSection
    buttons_path: Path | None = None  # keeps what buttons carry across restarts; None: memory only
    moderator_chat_ids: frozenset[int] = frozenset()  # groups whose administrators are moderators


@dataclass(frozen=True)
class DiscordSection:
    """The Discord adapter's settings (admin and moderator role ids go to the core's roles)."""

    bot_token: SecretStr | None
    thread_guild_ids: frozenset[int]
    digest_channel_id: int | None
    maintainer: str
    schedules: ScheduleSection
    guild_ids: frozenset[int] = frozenset()  # the community's servers: roles and answers only there
    manage_server_is_admin: bool = False  # Manage Server / Manage Messages count in those servers
