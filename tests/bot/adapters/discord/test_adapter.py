"""The real discord.py client, driven through the stand-in gateway and REST API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from discord import app_commands

from bot.adapters.discord.client import CrisisDiscordClient
from bot.runtime.service import CrisisBot
from index.embedder import SentenceTransformerEmbedder
from tests.discord_server import FakeDiscord, Recorded

QUESTION = "How many North Korean troops arrived in Russia?"
NO_PINGS: dict[str, list[str]] = {"parse": []}


class Running:
    def __init__(self, server: FakeDiscord, service: CrisisBot, client: CrisisDiscordClient) -> None:
        self.server = server
        self.service = service
        self.client = client

    async def after(self, event: str, data: dict[str, Any], method: str, path: str,
                    predicate: Callable[[Recorded], bool] | None = None) -> Recorded:
        """Dispatch a gateway event and wait for the first matching REST call after it."""
        start = len(self.server.requests)
        await self.server.dispatch(event, data)
        return await self.server.wait_for(method, path, predicate=predicate, after=start)


def community(server: FakeDiscord, manage_server_is_admin: bool = True) -> dict[str, Any]:
    """Settings making the stand-in's guild the community's; by default with Manage Server and
    Manage Messages counting there (the opt-in), as the role tests grant them."""
    return {"discord_guild_ids": str(server.guild_id), "discord_manage_server_is_admin": manage_server_is_admin}


@pytest.fixture
def make_service(tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> Callable[..., CrisisBot]:
    """A service whose listed guild is the stand-in's (members' tests: no permission counts)."""
    from bot.runtime.settings import load_settings

    def make(**overrides: Any) -> CrisisBot:
        overrides.setdefault("data_dir", tmp_path / "data")
        overrides.setdefault("discord_guild_ids", str(FakeDiscord.guild_id))
        service = CrisisBot(load_settings(**overrides), real_embedder)
        service.open()
        return service

    return make


async def connect(server: FakeDiscord, service: CrisisBot, sync: int | None = None) -> tuple[CrisisDiscordClient, asyncio.Task[None]]:
    client = CrisisDiscordClient(service, sync=sync, config=service.settings.discord, guild_ready_timeout=0.05)
    await client.login(server.token)
    task = asyncio.create_task(client.connect(reconnect=False))
    await asyncio.wait_for(client.wait_until_ready(), 30)
    return client, task


async def disconnect(client: CrisisDiscordClient, task: asyncio.Task[None]) -> None:
    await client.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest_asyncio.fixture
async def running(discord_server: FakeDiscord, make_service: Callable[..., CrisisBot],
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    discord_server.patch_client_urls(monkeypatch)
    service = make_service()
    client, task = await connect(discord_server, service, sync=discord_server.guild_id)
    yield Running(discord_server, service, client)
    await disconnect(client, task)


def embeds_of(request: Recorded) -> list[dict[str, Any]]:
    return list(request.json.get("embeds") or [])


def custom_ids(request: Recorded) -> list[str]:
    body = request.json.get("data", request.json) if "type" in request.json else request.json
    rows = body.get("components") or []
    return [c["custom_id"] for row in rows for c in row.get("components", []) if "custom_id" in c]


@pytest.mark.asyncio
async def test_sync_payload(running: Running) -> None:
    commands = {c["name"]: c for c in running.server.synced_commands[str(running.server.guild_id)]}
    assert set(commands) == {"ask", "sources", "summary", "digest", "kb"}
    option = commands["ask"]["options"][0]
    assert (option["name"], option["type"], option["required"]) == ("question", 3, True)
    assert commands["ask"]["description"].startswith("Ask a question")


@pytest.mark.asyncio
async def test_ask_defers_then_follows_up_with_a_cited_embed(running: Running) -> None:
    server = running.server
    interaction = server.slash_interaction("ask", {"question": QUESTION})
    start = len(server.requests)
    await server.dispatch("INTERACTION_CREATE", interaction)
    deferred = await server.wait_for("POST", f"/interactions/{interaction['id']}/", after=start)
    assert deferred.json["type"] == 5  # deferred channel message: "thinking…"
    follow = await server.wait_for("POST", "/webhooks/", after=start)
    embed = embeds_of(follow)[0]
    assert "10,000 North Korean troops" in embed["description"]
    field_text = " ".join(f["name"] + " " + f["value"] for f in embed["fields"])
    assert "Turning Tides" in field_text and "analysis" in field_text and "as of 2024-11" in field_text
    assert follow.json["allowed_mentions"] == NO_PINGS
    assert [i.split(":")[-1] for i in custom_ids(follow) if ":vote:" in i] == ["1", "-1"]
    assert [i.split(":")[1] for i in custom_ids(follow)] == ["vote", "vote", "more"]


@pytest.mark.asyncio
async def test_mention_in_a_channel_gets_a_reply(running: Running) -> None:
    server = running.server
    reply = await running.after("MESSAGE_CREATE", server.message_create(QUESTION, mentions_bot=True),
                                "POST", f"/channels/{server.channel_id}/messages")
    assert "10,000" in embeds_of(reply)[0]["description"]
    assert reply.json["message_reference"]["message_id"]
    assert reply.json["allowed_mentions"]["parse"] == []


@pytest.mark.asyncio
async def test_channel_message_without_mention_is_ignored_and_dm_is_answered(running: Running) -> None:
    server = running.server
    await server.dispatch("MESSAGE_CREATE", server.message_create("so how many troops did NK send??"))
    dm = await running.after("MESSAGE_CREATE", server.message_create(QUESTION, guild=False), "POST", "/messages")
    assert "10,000" in embeds_of(dm)[0]["description"]
    await asyncio.sleep(1)  # give a wrong reply to the channel message time to show up
    assert len([r for r in server.calls("POST", "/messages") if embeds_of(r)]) == 1


@pytest.mark.asyncio
async def test_everyone_in_article_text_pings_nobody(running: Running, tmp_path: Path) -> None:
    story = tmp_path / "alert.md"
    story.write_text("---\ntitle: Air raid alert @everyone\nkind: news\npublished: 2024-12-01\n---\n"
                     "@everyone The air raid alert in Kyiv lasted four hours on Sunday night, said <@&123> officials.\n")
    running.service.ingest(running.service.read([story], "test").documents)
    server = running.server
    interaction = server.slash_interaction("ask", {"question": "How long did the air raid alert in Kyiv last? @everyone"})
    follow = await running.after("INTERACTION_CREATE", interaction, "POST", "/webhooks/")
    assert "@everyone" in embeds_of(follow)[0]["description"]
    assert follow.json["allowed_mentions"] == NO_PINGS


@pytest.mark.asyncio
async def test_vote_button_is_stored(running: Running) -> None:
    server = running.server
    follow = await running.after("INTERACTION_CREATE", server.slash_interaction("ask", {"question": QUESTION}),
                                 "POST", "/webhooks/")
    thumbs_up = next(i for i in custom_ids(follow) if i.endswith(":1"))
    click = server.component_interaction(thumbs_up, server.sent_messages[-1])
    answered = await running.after("INTERACTION_CREATE", click, "POST", f"/interactions/{click['id']}/")
    assert answered.json["type"] == 4 and answered.json["data"]["flags"] & 64  # ephemeral thanks
    answer_id = int(thumbs_up.split(":")[2])
    with sqlite3.connect(running.service.settings.database_path) as db:
        rows = db.execute("SELECT value FROM votes WHERE answer_id = ?", (answer_id,)).fetchall()
    assert rows == [(1,)]


@pytest.mark.asyncio
async def test_429_with_via_is_retried(running: Running) -> None:
    server = running.server
    server.fail_next("POST", "/webhooks/", 429, retry_after=0.3, via=True)
    interaction = server.slash_interaction("ask", {"question": QUESTION})
    start = len(server.requests)
    await server.dispatch("INTERACTION_CREATE", interaction)
    first = await server.wait_for("POST", "/webhooks/", after=start)
    second = await server.wait_for("POST", "/webhooks/", after=server.requests.index(first) + 1)
    assert embeds_of(second) == embeds_of(first)


@pytest.mark.asyncio
async def test_too_long_question_gets_a_private_error(running: Running) -> None:
    interaction = running.server.slash_interaction("ask", {"question": "why " * 300})
    reply = await running.after("INTERACTION_CREATE", interaction, "POST", f"/interactions/{interaction['id']}/")
    assert reply.json["type"] == 4 and reply.json["data"]["flags"] & 64
    assert "too long" in reply.json["data"]["content"]


@pytest.mark.asyncio
async def test_sources_lists_with_paging(running: Running, tmp_path: Path) -> None:
    for number in range(14):
        (tmp_path / f"doc{number}.txt").write_text(f"Report number {number}\nShelling reported in district {number} overnight.")
    running.service.ingest(running.service.read(sorted(tmp_path.glob("doc*.txt")), "test").documents)
    server = running.server
    interaction = server.slash_interaction("sources")
    listed = await running.after("INTERACTION_CREATE", interaction, "POST", f"/interactions/{interaction['id']}/")
    assert listed.json["type"] == 4
    following = next(i for i in custom_ids(listed) if i.endswith(":next"))
    click = server.component_interaction(following, server.sent_messages[-1])
    updated = await running.after("INTERACTION_CREATE", click, "POST", f"/interactions/{click['id']}/")
    assert updated.json["type"] == 7  # the listing message is edited in place
    assert "Page 2 of 2" in updated.json["data"]["embeds"][0]["footer"]["text"]


@pytest.mark.asyncio
async def test_thread_per_question_where_the_server_wants_it(
    discord_server: FakeDiscord, make_service: Callable[..., CrisisBot], monkeypatch: pytest.MonkeyPatch
) -> None:
    discord_server.patch_client_urls(monkeypatch)
    service = make_service(discord_thread_guild_ids=str(discord_server.guild_id))
    client, task = await connect(discord_server, service)
    try:
        start = len(discord_server.requests)
        await discord_server.dispatch("MESSAGE_CREATE", discord_server.message_create(QUESTION, mentions_bot=True))
        thread = await discord_server.wait_for("POST", "/threads", after=start)
        assert "North Korean" in thread.json["name"]
        answer = await discord_server.wait_for("POST", "/messages", predicate=lambda r: bool(embeds_of(r)), after=start)
        assert f"/channels/{discord_server.channel_id}/messages" not in answer.path
    finally:
        await disconnect(client, task)


@pytest.mark.asyncio
async def test_a_failing_message_is_logged_and_the_bot_keeps_running(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("index exploded")

    server = running.server
    running.service.ask = broken  # type: ignore[method-assign,assignment]
    try:
        with caplog.at_level(logging.ERROR):
            reply = await running.after("MESSAGE_CREATE", server.message_create(QUESTION, mentions_bot=True), "POST", "/messages")
    finally:
        del running.service.ask  # back to the class's method
    assert reply.json["content"].startswith("Sorry, something went wrong")
    assert "index exploded" in caplog.text
    again = await running.after("MESSAGE_CREATE", server.message_create(QUESTION, mentions_bot=True), "POST", "/messages")
    assert "10,000" in embeds_of(again)[0]["description"]


@pytest.mark.asyncio
async def test_long_answer_stays_within_discord_limits(running: Running) -> None:
    from dataclasses import replace

    from bot.adapters.discord.formatting import answer_messages
    from tests.bot.adapters.discord.test_formatting import long_answer

    big, _ = long_answer()
    big = replace(big, id=running.service.feedback.record_answer(running.service.actor("discord", 501), big))
    running.service.ask = lambda *args: big  # type: ignore[method-assign,assignment]
    server = running.server
    try:
        start = len(server.requests)
        await server.dispatch("INTERACTION_CREATE", server.slash_interaction("ask", {"question": "what happened?"}))
        expected = len(answer_messages(big))
        await server.wait_for("POST", "/webhooks/", predicate=lambda r: bool(custom_ids(r)), after=start, timeout=30)
    finally:
        del running.service.ask
    follow_ups = [r for r in server.requests[start:] if r.method == "POST" and "/webhooks/" in r.path]
    assert len(follow_ups) == expected >= 2
    for request in follow_ups:  # the stand-in refuses payloads over the limits; check them too
        embeds = embeds_of(request)
        assert 1 <= len(embeds) <= 10 and len(request.json.get("content") or "") <= 2000
        assert all(len(e.get("description", "")) <= 4096 and len(e.get("fields", [])) <= 25 for e in embeds)
        total = sum(len(e.get("title", "")) + len(e.get("description", "")) + len((e.get("footer") or {}).get("text", ""))
                    + sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", [])) for e in embeds)
        assert total <= 6000
        assert request.json["allowed_mentions"] == NO_PINGS
    assert [bool(custom_ids(r)) for r in follow_ups] == [False] * (expected - 1) + [True]


@pytest.mark.asyncio
async def test_vote_buttons_survive_a_restart(running: Running) -> None:
    server = running.server
    follow = await running.after("INTERACTION_CREATE", server.slash_interaction("ask", {"question": QUESTION}),
                                 "POST", "/webhooks/")
    answer_message = server.sent_messages[-1]
    thumbs_down = next(i for i in custom_ids(follow) if i.endswith(":-1"))
    await running.client.close()  # the bot restarts; the message with its buttons stays
    client, task = await connect(server, running.service)
    try:
        click = server.component_interaction(thumbs_down, answer_message)
        answered = await running.after("INTERACTION_CREATE", click, "POST", f"/interactions/{click['id']}/")
        assert answered.json["type"] == 4
    finally:
        await disconnect(client, task)
    with sqlite3.connect(running.service.settings.database_path) as db:
        rows = db.execute("SELECT value FROM votes WHERE answer_id = ?", (int(thumbs_down.split(":")[2]),)).fetchall()
    assert rows == [(-1,)]


@pytest.mark.asyncio
async def test_a_bare_mention_gets_a_hint(running: Running) -> None:
    reply = await running.after("MESSAGE_CREATE", running.server.message_create("", mentions_bot=True), "POST", "/messages")
    assert "Ask me something after the mention" in reply.json["content"]
    assert reply.json["allowed_mentions"] == {"parse": [], "replied_user": False}


@pytest.mark.asyncio
async def test_a_mention_is_a_question_never_a_prefix_command(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot is a `commands.Bot` with `when_mentioned` as its prefix, yet has no prefix
    commands: "@bot help …" or "@bot ask …" is answered as the question it is, and
    discord.py's "command not found" is never raised (nor logged)."""
    assert running.client.all_commands == {} and running.client.help_command is None
    server = running.server
    with caplog.at_level(logging.ERROR):
        for word in ("help", "ask"):
            reply = await running.after("MESSAGE_CREATE", server.message_create(f"{word} {QUESTION}", mentions_bot=True),
                                        "POST", f"/channels/{server.channel_id}/messages")
            assert "10,000" in embeds_of(reply)[0]["description"]
    assert "CommandNotFound" not in caplog.text and "is not found" not in caplog.text


@pytest.mark.asyncio
async def test_each_audience_has_its_cog(running: Running) -> None:
    """Members, moderators and admins each get their commands from their own cog."""
    tree = running.client.tree
    owners = {command.name: type(command.binding).__name__ for command in tree.get_commands()
              if isinstance(command, app_commands.Command)}
    assert owners == {"ask": "Members", "sources": "Members", "summary": "Moderators", "digest": "Moderators"}
    group = tree.get_command("kb")
    assert isinstance(group, app_commands.Group) and group is running.client.admins.app_command


@pytest.mark.asyncio
async def test_bidi_controls_stored_in_a_title_never_reach_the_citation_line(running: Running, tmp_path: Path) -> None:
    """A title and publisher stored with bidi controls, zero-width characters and NUL (before
    the readers stripped them) are shown straight, in an answer and in /sources."""
    from tests.bidi_titles import PUBLISHER, QUESTION, TITLE, add_document_stored_with_bidi, invisible_in

    add_document_stored_with_bidi(running.service, tmp_path)
    server = running.server
    asked = server.slash_interaction("ask", {"question": QUESTION})
    follow = await running.after("INTERACTION_CREATE", asked, "POST", "/webhooks/")
    fields = [f for embed in embeds_of(follow) for f in embed.get("fields", [])]
    cited = next(f for f in fields if TITLE in f["name"])
    assert cited["value"].startswith(f"{PUBLISHER}, news"), cited
    assert invisible_in(json.dumps(follow.json, ensure_ascii=False)) == set()
    interaction = server.slash_interaction("sources")
    listed = await running.after("INTERACTION_CREATE", interaction, "POST", f"/interactions/{interaction['id']}/")
    description = listed.json["data"]["embeds"][0]["description"]
    assert TITLE in description and f"— {PUBLISHER}, news" in description, description
    assert invisible_in(json.dumps(listed.json, ensure_ascii=False)) == set()
