"""The issue's headline scenario, end to end: two bots, as two processes of one deployment, share
one PostgreSQL database. An admin's change made through the Telegram bot is answered from by the
Discord bot at once, with no restart, and a Discord admin's change reaches Telegram likewise.

The real python-telegram-bot Application runs against the stand-in Bot API, the real discord.py
client against the stand-in Discord; each has a `CrisisBot` of its own (its own settings, data
folder and connection pool), both on the same database, both with the real model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.core.answer import NO_ANSWER
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from tests.bot.adapters.discord.test_adapter import community, connect, custom_ids, disconnect, embeds_of
from tests.bot.adapters.discord.test_kb import text_of
from tests.bot.adapters.telegram.test_adapter import buttons
from tests.bot.adapters.telegram.test_adapter import start as start_telegram
from tests.bot.adapters.telegram.test_adapter import stop as stop_telegram
from tests.discord_server import FakeDiscord, Recorded
from tests.discord_server.state import FLAG_EPHEMERAL, permissions
from tests.telegram_server import FakeTelegram
from tests.telegram_server import Recorded as TelegramRecorded

pytestmark = pytest.mark.slow

WAIT = 60  # seconds: generous, for a slow machine; nothing sleeps

TELEGRAM_ADMIN = 501  # the stand-in's default private-chat user, made an admin by telegram_admin_ids
TELEGRAM_MEMBER = 777
DISCORD_ADMIN = 601  # holds a role with Manage Server in the stand-in guild
DISCORD_MEMBER = 602  # an ordinary member

QUESTION = "How many Leopard tanks did Portugal send to Ukraine?"
TITLE = "Portugal Leopard deliveries"
STATEMENT = (
    "Portugal sent three Leopard 2A6 tanks to Ukraine in March 2023, the defence ministry said. "
    "The tanks arrived in Poland first and crews trained there for several weeks."
)


class Deployment:
    """Two bots on one database: Telegram's service and application, Discord's service and client."""

    def __init__(self, telegram: FakeTelegram, telegram_service: CrisisBot, discord: FakeDiscord,
                 discord_service: CrisisBot) -> None:
        self.telegram = telegram
        self.telegram_service = telegram_service
        self.discord = discord
        self.discord_service = discord_service

    async def telegram_reply(self, text: str, user_id: int) -> TelegramRecorded:
        """Send a private message to the Telegram bot; its reply in that chat."""
        start = len(self.telegram.requests)
        self.telegram.push_update(self.telegram.private_message(text, user_id=user_id))
        return await self.telegram.wait_for(
            "sendMessage", lambda r: r.params.get("chat_id") == user_id, after=start, timeout=WAIT)

    async def discord_ask(self, question: str, user_id: int = DISCORD_MEMBER) -> Recorded:
        """A member's `/ask` in the guild channel; the follow-up that carries the answer."""
        interaction = self.discord.slash_interaction("ask", {"question": question}, user_id=user_id)
        start = len(self.discord.requests)
        await self.discord.dispatch("INTERACTION_CREATE", interaction)
        deferred = await self.discord.wait_for("POST", f"/interactions/{interaction['id']}/", after=start,
                                               timeout=WAIT)
        assert deferred.json["type"] == 5
        return await self.discord.wait_for("POST", f"/webhooks/{self.discord.application_id}/{interaction['token']}",
                                           after=start, timeout=WAIT)

    async def discord_kb(self, sub: str, options: dict[str, Any] | None = None,
                         user_id: int = DISCORD_ADMIN) -> Recorded:
        """An admin's `/kb sub`; the final edit of its private response."""
        interaction = self.discord.slash_interaction(f"kb {sub}", options, user_id=user_id)
        start = len(self.discord.requests)
        await self.discord.dispatch("INTERACTION_CREATE", interaction)
        deferred = await self.discord.wait_for("POST", f"/interactions/{interaction['id']}/", after=start,
                                               timeout=WAIT)
        assert deferred.json["type"] == 5 and deferred.json["data"]["flags"] & FLAG_EPHEMERAL
        return await self.discord.wait_for(
            "PATCH", f"/webhooks/{self.discord.application_id}/{interaction['token']}/messages/@original",
            predicate=lambda r: not (r.json.get("content") or "").startswith("Working"), after=start,
            timeout=WAIT)


@pytest_asyncio.fixture
async def deployment(postgres_url: str, real_embedder: SentenceTransformerEmbedder, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch, telegram_server: FakeTelegram,
                     discord_server: FakeDiscord) -> AsyncIterator[Deployment]:
    """Both bots running, each with a service of its own on the same, empty PostgreSQL database."""
    telegram, discord = telegram_server, discord_server
    discord.patch_client_urls(monkeypatch)
    discord.add_role("Editors", permissions("manage_guild"), [DISCORD_ADMIN])
    shared = {"database_url": postgres_url, "load_builtin_knowledge": False, "questions_per_minute": 1000}
    telegram_service = CrisisBot(load_settings(
        data_dir=tmp_path / "telegram-bot", TELEGRAM_BOT_TOKEN=telegram.token, telegram_api_url=telegram.base_url,
        telegram_admin_ids=str(TELEGRAM_ADMIN), **shared), real_embedder)
    discord_service = CrisisBot(load_settings(data_dir=tmp_path / "discord-bot", **shared, **community(discord)),
                                real_embedder)
    telegram_service.open()
    discord_service.open()
    application = await start_telegram(telegram, telegram_service)
    client, task = await connect(discord, discord_service, sync=discord.guild_id)
    try:
        yield Deployment(telegram, telegram_service, discord, discord_service)
    finally:
        await disconnect(client, task)
        await stop_telegram(application)
        discord_service.close()
        telegram_service.close()


async def telegram_admin_adds_the_statement(deployment: Deployment) -> str:
    """`/kb text <title>` with the statement on the following lines; the new document's id."""
    added = await deployment.telegram_reply(f"/kb text {TITLE}\n{STATEMENT}", TELEGRAM_ADMIN)
    text = added.params["text"]
    assert text.startswith("added "), text
    return str(text.split()[1])


@pytest.mark.asyncio
async def test_a_telegram_admins_document_is_answered_on_discord_and_a_discord_removal_reaches_telegram(
    deployment: Deployment,
) -> None:
    # Nothing about it yet, on either platform.
    declined = embeds_of(await deployment.discord_ask(QUESTION))
    assert len(declined) == 1 and "no answer" in declined[0]["description"]
    assert declined[0]["description"].replace("\\", "") == NO_ANSWER

    document_id = await telegram_admin_adds_the_statement(deployment)

    # The same running Discord client, no restart, no reload: it answers from the new document.
    follow = await deployment.discord_ask(QUESTION)
    embed = embeds_of(follow)[0]
    assert "three Leopard 2A6 tanks" in embed["description"], embed
    cited = " ".join(f["name"] + " " + f["value"] for f in embed.get("fields", []))
    assert TITLE in cited.replace("\\", ""), cited
    assert [i.split(":")[-1] for i in custom_ids(follow) if ":vote:" in i] == ["1", "-1"]  # a found answer: vote buttons

    # A Telegram member gets it too, before the removal.
    answered = await deployment.telegram_reply(QUESTION, TELEGRAM_MEMBER)
    assert "three Leopard 2A6 tanks" in answered.params["text"] and TITLE in answered.params["text"]

    # A Discord admin removes it; the Telegram bot, still running, declines again.
    removed = await deployment.discord_kb("remove", {"id": document_id})
    assert "Removed" in text_of(removed), text_of(removed)
    again = await deployment.telegram_reply(QUESTION, TELEGRAM_MEMBER)
    assert "no answer" in again.params["text"] and buttons(again) == []
    assert deployment.telegram_service.store.document_count() == 0


@pytest.mark.asyncio
async def test_a_telegram_admins_change_is_in_the_audit_log_the_discord_bot_reads(deployment: Deployment) -> None:
    document_id = await telegram_admin_adds_the_statement(deployment)

    entries = deployment.discord_service.audit.entries()
    assert [(e.platform, e.user_id, e.action, e.target) for e in entries] == [
        ("telegram", str(TELEGRAM_ADMIN), "add-text", TITLE)]
    assert entries[0].result.startswith(f"ok: added {document_id}")

    # And a Discord admin reads it with /kb log, in the Discord bot's own words.
    log = text_of(await deployment.discord_kb("log"))
    assert f"telegram:{TELEGRAM_ADMIN}" in log and "add-text" in log and TITLE in log, log
