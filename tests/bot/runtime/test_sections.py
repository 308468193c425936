"""Each adapter receives its own section of the settings; configured roles reach the core."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.actors import Role
from bot.runtime.service import CrisisBot
from bot.runtime.settings import Settings
from tests.fakes import HashingEmbedder


def test_sections_carry_what_each_adapter_needs(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        telegram_digest_chat_id=-100, discord_thread_guild_ids="5, 6", discord_digest_channel_id=7,
        feed_poll_minutes=15, run_schedules=False, maintainer="ops team",
    )
    assert settings.telegram.digest_chat_id == -100 and settings.telegram.maintainer == "ops team"
    assert settings.discord.thread_guild_ids == frozenset({5, 6}) and settings.discord.digest_channel_id == 7
    schedules = settings.telegram.schedules
    assert schedules == settings.discord.schedules
    assert (schedules.run_schedules, schedules.feed_poll_minutes) == (False, 15)
    assert schedules.digest.describe() == settings.schedule.describe()


def test_configured_discord_role_ids_make_admins_and_moderators_in_the_core(
    make_settings: Callable[..., Settings],
) -> None:
    bot = CrisisBot(make_settings(discord_admin_role_ids="11", discord_moderator_role_ids="22"), HashingEmbedder())
    try:
        assert Role.ADMIN in bot.actor("discord", 1, "a", group_ids=[11, 99]).roles
        assert bot.actor("discord", 2, "m", group_ids=[22]).roles == frozenset({Role.MEMBER, Role.MODERATOR})
        assert bot.actor("discord", 3, "x", group_ids=[33]).roles == frozenset({Role.MEMBER})
        assert bot.actor("telegram", 4, "t", group_ids=[11]).roles == frozenset({Role.MEMBER})
    finally:
        bot.close()
