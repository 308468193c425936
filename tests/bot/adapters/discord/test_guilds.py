"""Roles come only from the community's servers (`discord_guild_ids`), and the bot works in no
other server: the real discord.py client against the stand-in Discord, whose interactions carry
`guild_id`, the member's roles and the member's permissions in the interaction's channel, as
Discord's do."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.adapters.discord.core_calls import UNLISTED_RESULT
from bot.core.messages import DISCORD_UNLISTED_GUILD, NO_SUMMARY
from bot.runtime.service import CrisisBot
from bot.runtime.settings import load_settings
from index.embedder import SentenceTransformerEmbedder
from tests.bot.adapters.discord.test_adapter import QUESTION, Running, connect, custom_ids, disconnect, embeds_of
from tests.discord_server import FakeDiscord, Recorded
from tests.discord_server.state import FLAG_EPHEMERAL, MEMBER_PERMISSIONS, permissions

GUILD_ADMIN = 601  # Manage Server through the "Editors" role
MODERATOR = 611  # Manage Messages through the "Moderators" role
TRUSTEE = 621  # holds the "Trustees" role, which grants no permission: a configured admin role
MEMBER = 602
OTHER_GUILD = 123456789  # the community's server, when the stand-in's is not
NOT_ADMIN, NOT_MODERATOR = "Only admins may do that.", "Only moderators may do that."

Start = Callable[..., Awaitable[Running]]


@dataclasses.dataclass(frozen=True)
class Roles:
    editors: int
    moderators: int
    trustees: int


@pytest_asyncio.fixture
async def roles(discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> Roles:
    discord_server.patch_client_urls(monkeypatch)
    return Roles(discord_server.add_role("Editors", permissions("manage_guild"), [GUILD_ADMIN]),
                 discord_server.add_role("Moderators", permissions("manage_messages"), [MODERATOR]),
                 discord_server.add_role("Trustees", 0, [TRUSTEE]))


@pytest_asyncio.fixture
async def start(discord_server: FakeDiscord, roles: Roles, real_embedder: SentenceTransformerEmbedder,
                tmp_path: Path) -> AsyncIterator[Start]:
    """Starts one bot with the settings given; stops it after the test."""
    started: list[tuple[Any, Any, CrisisBot]] = []

    async def run(**settings: Any) -> Running:
        service = CrisisBot(load_settings(data_dir=tmp_path / "data", questions_per_minute=1000, **settings),
                            real_embedder)
        service.open()
        client, task = await connect(discord_server, service, sync=discord_server.guild_id)
        started.append((client, task, service))
        return Running(discord_server, service, client)

    yield run
    for client, task, service in started:
        await disconnect(client, task)
        service.close()


async def slash(bot: Running, name: str, options: dict[str, Any] | None = None, user: int = MEMBER,
                **extra: Any) -> Recorded:
    """The interaction's callback (its acknowledgement or its reply)."""
    interaction = bot.server.slash_interaction(name, options, user_id=user, **extra)
    return await bot.after("INTERACTION_CREATE", interaction, "POST", f"/interactions/{interaction['id']}/")


async def private_text(bot: Running, name: str, options: dict[str, Any] | None = None, user: int = MEMBER,
                       **extra: Any) -> str:
    """What a command that answers privately finally says (after its deferral, if any)."""
    server = bot.server
    interaction = server.slash_interaction(name, options, user_id=user, **extra)
    begin = len(server.requests)
    await server.dispatch("INTERACTION_CREATE", interaction)
    callback = await server.wait_for("POST", f"/interactions/{interaction['id']}/", after=begin)
    if callback.json["type"] == 4:
        return str(callback.json["data"]["content"])
    hook = f"/webhooks/{server.application_id}/{interaction['token']}"

    def said(request: Recorded) -> str:
        body = request.json if isinstance(request.json, dict) else {}
        return str(body.get("content") or (body.get("embeds") or [{}])[0].get("title") or "")

    deadline = asyncio.get_running_loop().time() + 60
    while asyncio.get_running_loop().time() < deadline:
        told = [said(r) for r in server.requests[begin:] if hook in r.path and r.method in ("POST", "PATCH")]
        final = [text for text in told if text and not text.startswith("Working")]
        if final:
            return final[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"/{name} never said anything")


def refusals(service: CrisisBot) -> list[tuple[str, str, str, str]]:
    return [(e.user_id, e.action, e.target, e.result) for e in service.audit.entries(50)
            if e.result == UNLISTED_RESULT]


@pytest.mark.asyncio
async def test_manage_server_in_an_unlisted_guild_changes_nothing_and_is_audited(start: Start, roles: Roles) -> None:
    """Someone invites the bot to a server of their own: Manage Server there (even a role whose
    id is configured) makes no one an admin of the community's knowledge base."""
    bot = await start(discord_guild_ids=str(OTHER_GUILD), discord_manage_server_is_admin=True,
                      discord_admin_role_ids=str(roles.editors))
    before = {doc.id for doc in bot.service.store.documents()}
    victim = sorted(before)[0]
    refused = await slash(bot, "kb remove", {"id": victim}, user=GUILD_ADMIN)
    assert refused.json["type"] == 4 and refused.json["data"]["flags"] & FLAG_EPHEMERAL
    assert refused.json["data"]["content"] == DISCORD_UNLISTED_GUILD
    assert {doc.id for doc in bot.service.store.documents()} == before
    assert refusals(bot.service) == [(str(GUILD_ADMIN), "kb remove", f"guild {bot.server.guild_id}", UNLISTED_RESULT)]


@pytest.mark.asyncio
async def test_questions_are_answered_in_dms_but_not_in_an_unlisted_guild(start: Start) -> None:
    bot = await start()  # no guild listed: the default
    server = bot.server
    asked = await slash(bot, "ask", {"question": QUESTION})
    assert asked.json["type"] == 4 and asked.json["data"]["flags"] & FLAG_EPHEMERAL  # no public "thinking…"
    assert asked.json["data"]["content"] == DISCORD_UNLISTED_GUILD
    mention = await bot.after("MESSAGE_CREATE", server.message_create(QUESTION, user_id=MEMBER, mentions_bot=True),
                              "POST", f"/channels/{server.channel_id}/messages")
    assert mention.json["content"] == DISCORD_UNLISTED_GUILD and not embeds_of(mention)
    dm = await bot.after("MESSAGE_CREATE", server.message_create(QUESTION, user_id=MEMBER, guild=False),
                         "POST", "/messages")
    assert "10,000" in embeds_of(dm)[0]["description"]
    where = f"guild {server.guild_id}"
    assert sorted(refusals(bot.service)) == [(str(MEMBER), "ask", where, UNLISTED_RESULT)] * 2
    assert not any(c for c in server.calls("POST", "/threads"))  # nothing was started there


@pytest.mark.asyncio
@pytest.mark.parametrize("opted_in", [False, True])
async def test_configured_admin_roles_count_and_manage_server_only_when_opted_in(
    start: Start, roles: Roles, opted_in: bool,
) -> None:
    bot = await start(discord_guild_ids=str(FakeDiscord.guild_id), discord_admin_role_ids=str(roles.trustees),
                      discord_manage_server_is_admin=opted_in)
    assert await private_text(bot, "kb list", user=TRUSTEE) == "Knowledge base"
    by_permission = await private_text(bot, "kb list", user=GUILD_ADMIN)
    assert by_permission == ("Knowledge base" if opted_in else NOT_ADMIN)


@pytest.mark.asyncio
async def test_manage_messages_is_read_in_the_channel_of_the_interaction(start: Start) -> None:
    """A summary is posted into the channel it is asked in, so Manage Messages counts as Discord
    computes it there (`interaction.permissions`), not server-wide."""
    bot = await start(discord_guild_ids=str(FakeDiscord.guild_id), discord_manage_server_is_admin=True)
    topic = {"topic": "zebra migration on the moon"}
    # A server-wide moderator whom this channel's overwrites deny Manage Messages:
    assert await private_text(bot, "summary", topic, user=MODERATOR, permissions=MEMBER_PERMISSIONS) == NOT_MODERATOR
    # Manage Messages granted in this channel only:
    in_channel = MEMBER_PERMISSIONS | permissions("manage_messages")
    assert await private_text(bot, "summary", topic, user=MEMBER, permissions=in_channel) == NO_SUMMARY
    assert await private_text(bot, "summary", topic, user=MEMBER) == NOT_MODERATOR


@pytest.mark.asyncio
async def test_a_button_in_a_guild_no_longer_listed_is_refused_privately(start: Start) -> None:
    bot = await start(discord_guild_ids=str(FakeDiscord.guild_id))
    server = bot.server
    follow = await bot.after("INTERACTION_CREATE", server.slash_interaction("ask", {"question": QUESTION}),
                             "POST", "/webhooks/")
    thumbs_up = next(i for i in custom_ids(follow) if i.endswith(":1"))
    core = bot.client.members.core
    core.config = dataclasses.replace(core.config, guild_ids=frozenset())  # the operator delisted it
    click = server.component_interaction(thumbs_up, server.sent_messages[-1])
    refused = await bot.after("INTERACTION_CREATE", click, "POST", f"/interactions/{click['id']}/")
    assert refused.json["type"] == 4 and refused.json["data"]["flags"] & FLAG_EPHEMERAL
    assert refused.json["data"]["content"] == DISCORD_UNLISTED_GUILD
    assert refusals(bot.service) == [("501", "button vote", f"guild {server.guild_id}", UNLISTED_RESULT)]


def test_the_discord_section_carries_the_guilds_and_the_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISISBOT_DISCORD_GUILD_IDS", "5, 6")
    monkeypatch.setenv("CRISISBOT_DISCORD_MANAGE_SERVER_IS_ADMIN", "true")
    section = load_settings(data_dir=tmp_path).discord
    assert section.guild_ids == frozenset({5, 6}) and section.manage_server_is_admin
    listed = load_settings(data_dir=tmp_path, discord_guild_ids=[7], discord_manage_server_is_admin=False).discord
    assert listed.guild_ids == frozenset({7}) and not listed.manage_server_is_admin  # a TOML list too
    monkeypatch.delenv("CRISISBOT_DISCORD_GUILD_IDS")
    monkeypatch.delenv("CRISISBOT_DISCORD_MANAGE_SERVER_IS_ADMIN")
    default = load_settings(data_dir=tmp_path).discord
    assert default.guild_ids == frozenset() and not default.manage_server_is_admin  # DMs only, no permission counts
